"""Finding what the store cannot hold: U+0000, lone surrogates, non-finite numbers, deep nesting.

PostgreSQL's text and jsonb cannot hold U+0000 (SQLite can). A lone surrogate (``"\\ud800"``
is valid JSON, yet no Unicode text) cannot be encoded for either driver, and in a JSON column
it is a value PostgreSQL's JSON operators refuse and Temporal's payload encoding cannot write.
NaN and Infinity (Python's JSON parser reads them, and ``1e400`` as Infinity) are no JSON
numbers: PostgreSQL refuses them, SQLite's JSON functions too; an integer past the largest
float (400 digits) is stored, but no numeric read of it can succeed. Objects nested past
:data:`DEPTH_MAX` levels reach the encoders' recursion limits (pydantic's, with which the relay
hands events to Temporal, is at about 250; json's at about 1000 minus the stack in use).

Whatever reaches the store with one of them anywhere (an id, an event name, a trait, a
property, a key of an object) is refused with the field named, on both backends, rather than
failing in the database with a 500 (an API call), taking the good rows of its transaction down
with it (an import), or failing for ever (a provider's webhook, which the provider retries).
Pure: the gateway's models and routes and the contact importer use it. A provider's
webhook event with one is answered 2xx and ignored (``gateway/webhooks.py`` says why).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from math import isfinite
from typing import Any

NUL = "\x00"
IN_VALUE = "contains a NUL character (U+0000), which cannot be stored"
IN_KEY = "has a key that contains a NUL character (U+0000), which cannot be stored"
_LONE = "a lone surrogate (U+D800 to U+DFFF), which is not Unicode text and cannot be stored"
SURROGATE_IN_VALUE = f"contains {_LONE}"
SURROGATE_IN_KEY = f"has a key that contains {_LONE}"
NOT_FINITE = "is not a finite number (NaN, Infinity, or past 1.8e308), which cannot be stored"
# Objects and arrays inside one another, counted from the field (``properties`` is level 1).
DEPTH_MAX = 64
TOO_DEEP = f"nests objects and arrays more than {DEPTH_MAX} levels deep"
# Any surrogate code point: in a str, one is always lone (pairs are decoded into one).
_SURROGATE = re.compile("[\ud800-\udfff]")
# Values with no string inside, skipped at once (most leaves of a call are one of them).
_LEAVES = frozenset({int, float, bool, type(None), datetime})


def _flawed(text: str) -> bool:
    # isascii() is O(1) in CPython: ASCII text (nearly all of it) pays one substring search.
    return NUL in text or (not text.isascii() and _SURROGATE.search(text) is not None)


def _flaw(text: str, *, key: bool) -> str:
    if NUL in text:
        return IN_KEY if key else IN_VALUE
    return SURROGATE_IN_KEY if key else SURROGATE_IN_VALUE


def _huge(number: int) -> bool:
    # A JSON integer past the largest float is stored as its digits, but nothing that reads
    # numbers can read it back: PostgreSQL's ::float (best sellers, numeric segment rules)
    # fails on it, so one such event or trait would fail those queries for every contact.
    if number.bit_length() <= 1000:  # nearly every integer: no conversion tried
        return False
    try:
        float(number)
    except OverflowError:
        return True
    return False


def has_unstorable(values: Sequence[Any]) -> bool:
    """Whether any of ``values`` (fields' values) holds what the store cannot: U+0000 or a
    lone surrogate in a string or key, a non-finite float, an integer past the largest float,
    or nesting past :data:`DEPTH_MAX`.

    The cheap check every call goes through, one level at a time (so depth costs no stack);
    :func:`find_unstorable` then names the field, for the rare call that has one.
    """
    level, depth = list(values), 0
    while level:
        below: list[Any] = []
        for item in level:
            kind = type(item)
            if kind is str:
                if _flawed(item):
                    return True
            elif kind is float:
                if not isfinite(item):
                    return True
            elif kind is int:
                if _huge(item):
                    return True
            elif kind in _LEAVES:
                continue
            elif isinstance(item, dict):
                if depth >= DEPTH_MAX or any(isinstance(k, str) and _flawed(k) for k in item):
                    return True
                below.extend(item.values())
            elif isinstance(item, list | tuple):
                if depth >= DEPTH_MAX:
                    return True
                below.extend(item)
            elif isinstance(item, str) and _flawed(item):
                return True
            elif isinstance(item, float) and not isfinite(item):
                return True
        level, depth = below, depth + 1
    return False


def find_unstorable(value: Any, path: str) -> tuple[str, str] | None:
    """``(field, reason)`` of the first value in ``value`` that :func:`has_unstorable` refuses,
    in document order, else None.

    Walks dicts (keys and values) and lists without recursion, so depth costs no stack.
    ``field`` extends ``path`` as the answers name fields: ``traits.firstName``,
    ``properties.items[0].name``; an object nested too deep, or with a key that cannot be
    stored, is named by its own path. An empty ``path`` is the root: its fields are named bare
    (``userId``), a flaw in one of its keys ``body``.
    """
    pending: list[tuple[Any, str, int]] = [(value, path, 0)]
    while pending:
        item, where, depth = pending.pop()
        if isinstance(item, str):
            if _flawed(item):
                return where or "body", _flaw(item, key=False)
        elif isinstance(item, float):
            if not isfinite(item):
                return where or "body", NOT_FINITE
        elif isinstance(item, int) and not isinstance(item, bool):
            if _huge(item):
                return where or "body", NOT_FINITE
        elif isinstance(item, dict | list | tuple) and depth >= DEPTH_MAX:
            return where or "body", TOO_DEEP
        elif isinstance(item, dict):
            children: list[tuple[Any, str, int]] = []
            for key, child in item.items():
                if isinstance(key, str) and _flawed(key):
                    return where or "body", _flaw(key, key=True)
                children.append((child, f"{where}.{key}" if where else str(key), depth + 1))
            pending.extend(reversed(children))  # popped in document order
        elif isinstance(item, list | tuple):
            pending.extend(
                (item[i], f"{where}[{i}]", depth + 1) for i in reversed(range(len(item)))
            )
    return None


def unstorable_field(fields: dict[str, Any]) -> tuple[str, str] | None:
    """``(field, reason)`` of the first value of ``fields`` (a body keyed by the names the
    client sent: ``subscription.endpoint``, ``userId``) the store cannot hold, else None; a
    body without one costs one :func:`has_unstorable` walk."""
    if not has_unstorable(list(fields.values())):
        return None
    for name, value in fields.items():
        found = find_unstorable(value, name)
        if found is not None:
            return found
    return None
