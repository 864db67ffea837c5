"""``StepVisibility``: what an operator sees of a journey's step, in the Web UI and the logs.

Mixed into ``Journey``: the ``JourneyStep`` search attribute, the current details ("waiting for
… until …") and the bounded step story the ``state`` query returns.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.models import StepRecord
    from workflows.search import CONTACT_ID, JOURNEY_STEP, contact_of
    from workflows.spec import JourneySpec

HISTORY_LIMIT = 100


class StepVisibility:
    """Step, details and story of a journey; the attributes are ``Journey``'s."""

    spec: ClassVar[JourneySpec]
    _step: str
    _waiting_for: str | None
    _until: datetime | None
    _history: list[StepRecord]

    def _set_step(self, step: str) -> None:
        self._step = step
        updates = [JOURNEY_STEP.value_set(step)]
        if CONTACT_ID not in workflow.info().typed_search_attributes:
            updates.append(CONTACT_ID.value_set(contact_of(workflow.info().workflow_id)))
        workflow.upsert_search_attributes(updates)

    def _wait_details(self, what: str | None, until: datetime | None) -> None:
        self._waiting_for, self._until = what, until
        if what is None:
            workflow.set_current_details(f"step {self._step}")
        else:
            assert until is not None
            workflow.set_current_details(
                f"step {self._step}: waiting for {what} until {until.isoformat(timespec='minutes')}"
            )

    def _record(self, step: str, detail: str) -> None:
        self._history.append(StepRecord(at=workflow.now(), step=step, detail=detail))
        if len(self._history) > HISTORY_LIMIT:
            del self._history[0]
        workflow.logger.info(
            "journey step",
            # The contact's key, never its user id: logs are kept and shipped in clear.
            extra={
                "journey": self.spec.name,
                "contact": contact_of(workflow.info().workflow_id),
                "detail": detail,
            },
        )
