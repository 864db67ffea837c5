"""Structured logging for every Sojourn process: structlog in front, stdlib logging behind it.

Only the CLI's process entry points (``sojourn dev``, ``worker``, ``gateway``) call
:func:`configure_logging`; importing this module changes nothing.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from temporalio import activity, workflow

from worker.settings import Settings

# Loggers that install handlers of their own; their records must flow to the root handler.
ROUTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "temporalio", "alembic")

# Temporal puts workflow and activity details in these ``extra`` keys (see below).
_TEMPORAL_EXTRAS = ["temporal_workflow", "temporal_activity"]
# The details worth a field of their own; the rest (namespace, task queue) is the same everywhere.
_TEMPORAL_FIELDS = ("workflow_id", "workflow_type", "run_id", "activity_type", "attempt")


def flatten_temporal(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """Lift ``workflow.logger``/``activity.logger`` details into plain fields.

    Ids only: workflow ids are ``<journey>-<contactId>``, never personal data.
    """
    for extra in _TEMPORAL_EXTRAS:
        details = event.pop(extra, None)
        if isinstance(details, dict):
            for key in _TEMPORAL_FIELDS:
                if key in details and not (key == "attempt" and details[key] == 1):
                    event.setdefault(key, details[key])
    return event


def shared_processors() -> list[Any]:
    """Processors run on every record, from structlog and from stdlib loggers alike."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(allow=_TEMPORAL_EXTRAS),
        flatten_temporal,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def make_formatter(log_format: str, *, colors: bool = False) -> structlog.stdlib.ProcessorFormatter:
    """The stdlib formatter that renders every record as console text or one JSON object."""
    processors: list[Any] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if log_format == "json":
        processors += [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    else:
        # Plain tracebacks: rich's would print local variables, personal data included.
        processors.append(
            structlog.dev.ConsoleRenderer(
                colors=colors, exception_formatter=structlog.dev.plain_traceback
            )
        )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors(), processors=processors
    )


def configure_logging(settings: Settings) -> None:
    """Route structlog and stdlib logging (uvicorn, temporalio, ``workflow.logger``) to stderr.

    Console rendering in development, one JSON object per line when
    ``settings.log_format == "json"``. Safe to call more than once: it replaces, never adds.
    """
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):
        level = logging.INFO
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared_processors(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(make_formatter(settings.log_format, colors=sys.stderr.isatty()))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ROUTED_LOGGERS:
        routed = logging.getLogger(name)
        routed.handlers = []
        routed.propagate = True
    # Per-request and per-migration-step lines drown the journeys' own logs; problems still show.
    for chatty in ("uvicorn.access", "alembic"):
        logging.getLogger(chatty).setLevel(max(level, logging.WARNING))
    # The details become structured fields (ExtraAdder above) instead of a dict in the text.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
