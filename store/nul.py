"""Finding U+0000: PostgreSQL's text and jsonb cannot hold it, SQLite can.

Whatever reaches the store with a NUL anywhere (an id, an event name, a trait, a property, a key
of an object) is refused with the field named, on both backends, rather than failing in the
database with a 500 (an API call), taking the good rows of its transaction down with it (an
import), or failing for ever (a provider's webhook, which the provider retries). Pure: the
gateway's models and routes and the contact importer all use it. A provider's webhook event
with one is answered 2xx and ignored (``gateway/webhooks.py`` says why).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

NUL = "\x00"
IN_VALUE = "contains a NUL character (U+0000), which cannot be stored"
IN_KEY = "has a key that contains a NUL character (U+0000), which cannot be stored"
# Values with no string inside, skipped at once (most leaves of a call are one of them).
_LEAVES = frozenset({int, float, bool, type(None), datetime})


def has_nul(value: Any) -> bool:
    """Whether any string in ``value`` (nested dicts' keys and values, lists) holds U+0000.

    The cheap check every call goes through (a few microseconds for a browser's context);
    :func:`find_nul` then names the field, for the rare call that has one.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is str:
            if NUL in item:
                return True
        elif kind in _LEAVES:
            continue
        elif kind is dict or isinstance(item, dict):
            for key in item:
                if isinstance(key, str) and NUL in key:
                    return True
            pending.extend(item.values())
        elif kind is list or isinstance(item, list | tuple):
            pending.extend(item)
        elif isinstance(item, str) and NUL in item:
            return True
    return False


def find_nul(value: Any, path: str) -> tuple[str, str] | None:
    """``(field, reason)`` of the first string in ``value`` that holds U+0000, else None.

    Walks dicts (keys and values) and lists without recursion, so depth costs no stack.
    ``field`` extends ``path`` as the answers name fields: ``traits.firstName``,
    ``properties.items[0].name``; a key with a NUL is reported at the object holding it. An
    empty ``path`` is the root: its fields are named bare (``userId``), a NUL in one of its
    keys ``body``.
    """
    pending: list[tuple[Any, str]] = [(value, path)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, str):
            if NUL in item:
                return where or "body", IN_VALUE
        elif isinstance(item, dict):
            children: list[tuple[Any, str]] = []
            for key, child in item.items():
                if isinstance(key, str) and NUL in key:
                    return where or "body", IN_KEY
                children.append((child, f"{where}.{key}" if where else str(key)))
            pending.extend(reversed(children))  # popped in document order
        elif isinstance(item, list | tuple):
            pending.extend((item[i], f"{where}[{i}]") for i in reversed(range(len(item))))
    return None


def nul_field(fields: dict[str, Any]) -> tuple[str, str] | None:
    """``(field, reason)`` of the first NUL among ``fields`` (a body keyed by the names the
    client sent: ``subscription.endpoint``, ``userId``), else None; a body without one costs
    one :func:`has_nul` walk."""
    if not has_nul(fields):
        return None
    return find_nul(fields, "")
