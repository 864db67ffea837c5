"""Segments: a small rule language compiled to SQL, RFM and lead scores, automatic tags.

- :mod:`store.segments.rules`: the pydantic rule models and the builders segments are written
  with (``all_of``, ``trait``, ``did``, ``did_not``…).
- :mod:`store.segments.compiler`: rules → SQLAlchemy Core clauses.
- :mod:`store.segments.rfm`: RFM quintiles and groups.
- :mod:`store.segments.reference`: a plain-Python evaluator, the oracle of the tests.
- :mod:`store.segments.repo`: ``SegmentRepo``, what the activities and the CLI call.
"""

from store.segments.compiler import Catalog, RuleError
from store.segments.repo import SegmentRepo

__all__ = ["Catalog", "RuleError", "SegmentRepo"]
