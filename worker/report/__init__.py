"""``sojourn report``: per journey, step and arm, what was sent and what it earned.

:mod:`worker.report.figures` computes the figures from the store (the same attribution and
tests the runtime uses), :mod:`worker.report.page` draws them as one self-contained HTML page.
"""
