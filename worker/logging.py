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
from workflows.search import DEV_KEYS, ContactKeys

# Loggers that install handlers of their own; their records must flow to the root handler.
ROUTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "temporalio", "alembic")

# Database drivers that log query parameters, personal data included.
SQL_LOGGERS = ("aiosqlite", "sqlalchemy.engine", "asyncpg")

# Temporal puts workflow and activity details in these ``extra`` keys (see below).
_TEMPORAL_EXTRAS = ["temporal_workflow", "temporal_activity"]
# The details worth a field of their own; the rest (namespace, task queue) is the same everywhere.
_TEMPORAL_FIELDS = ("workflow_id", "workflow_type", "run_id", "activity_type", "attempt")


def flatten_temporal(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """Lift ``workflow.logger``/``activity.logger`` details into plain fields.

    Ids only: workflow ids are ``<journey>-<contact key>``, never personal data.
    """
    for extra in _TEMPORAL_EXTRAS:
        details = event.pop(extra, None)
        if isinstance(details, dict):
            for key in _TEMPORAL_FIELDS:
                if key in details and not (key == "attempt" and details[key] == 1):
                    event.setdefault(key, details[key])
    return event


# Fields that hold a user id, which apps often make an email address.
USER_ID_FIELDS = ("contact_id", "user_id", "userId", "anonymous_id", "anonymousId")


def pseudonymise(keys: ContactKeys) -> Any:
    """A processor that logs a contact's key in place of their user id (``contact=…``).

    Call sites log ``contact_id=`` as they always did; nothing with a user id in it reaches
    a log line. The key is the one in workflow ids and the ``ContactId`` search attribute,
    so a log line leads to the contact's journeys (see ``workflows/search.py``).
    """

    def processor(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
        for field in USER_ID_FIELDS:
            value = event.pop(field, None)
            if value is not None:
                event.setdefault("contact", keys.key(str(value)))
        return event

    return processor


def shared_processors(keys: ContactKeys = DEV_KEYS) -> list[Any]:
    """Processors run on every record, from structlog and from stdlib loggers alike."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(allow=_TEMPORAL_EXTRAS),
        flatten_temporal,
        pseudonymise(keys),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def make_formatter(
    log_format: str, *, colors: bool = False, keys: ContactKeys = DEV_KEYS
) -> structlog.stdlib.ProcessorFormatter:
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
        foreign_pre_chain=shared_processors(keys), processors=processors
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
            *shared_processors(settings.contact_keys),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        make_formatter(settings.log_format, colors=sys.stderr.isatty(), keys=settings.contact_keys)
    )
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
    # These log SQL statements with their parameters (addresses, names) at DEBUG: never below
    # WARNING, whatever SOJOURN_LOG_LEVEL says.
    for leaky in SQL_LOGGERS:
        logging.getLogger(leaky).setLevel(max(level, logging.WARNING))
    # The details become structured fields (ExtraAdder above) instead of a dict in the text.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
