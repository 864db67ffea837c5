"""Saved Temporal histories of the journey tests, replayed by ``tests/workflows/test_replay.py``.

``python -m tests.histories.record`` regenerates them (see ``record.py``); files are never
overwritten, so the histories of the code versions that ran before stay and keep replaying.
"""
