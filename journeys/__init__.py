"""The journeys, as code: one module each, plus their templates under ``templates/``.

The registry (``ALL``, ``BY_NAME``) lives in ``journeys.registry``, not here: the workflow
sandbox loads this package afresh for every journey it runs, so importing one journey must not
import them all (``worker/sandbox.py``).
"""
