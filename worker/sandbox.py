"""The workflow sandbox every worker of Sojourn's journeys uses (worker, simulator, replayer).

Temporal's Python sandbox re-imports a workflow's module, and everything it imports that is not
passed through, for every workflow it runs: a journey's first task compiled and executed the
whole runtime (``workflows/``) and, through ``journeys/__init__``, every journey, about a
quarter of the worker's CPU on a burst of sign-ups. Temporal's guidance is to pass through
modules that are used deterministically; the runtime is ours, deterministic and tested (the
replay tests), and holds no mutable module state, so it is imported once. A journey module
(``journeys/*.py``, user code) is still loaded afresh in the sandbox for each run, so the
sandbox's restrictions (no ``datetime.now()``, no I/O) keep guarding what users write.
"""

from __future__ import annotations

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

# The runtime and the models its activities exchange: imported once, shared by every run.
RUNTIME_MODULES = ("workflows", "activities", "store")

WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(*RUNTIME_MODULES)
)
