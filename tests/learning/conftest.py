"""The journey harness of tests/workflows, for experiment and report tests."""

from tests.workflows.conftest import harness, make_harness

__all__ = ["harness", "make_harness"]
