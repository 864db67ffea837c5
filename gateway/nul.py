"""Finding U+0000 in what the gateway takes: the store's finder (``store/nul.py``), for the
gateway's models and routes.

PostgreSQL's text and jsonb cannot hold U+0000 (SQLite can): a call, a catalog upsert, a
consent or push subscription with one is refused with a 422 naming the field, the same on
both backends; a provider's webhook event with one is answered 2xx and ignored (logged once,
without the value), since the provider would otherwise retry a request that cannot succeed.
"""

from __future__ import annotations

from typing import Any

from store.nul import IN_KEY, IN_VALUE, NUL, find_nul, has_nul

__all__ = ["IN_KEY", "IN_VALUE", "NUL", "find_nul", "has_nul", "nul_field"]


def nul_field(fields: dict[str, Any], *, dotted: bool = False) -> tuple[str, str] | None:
    """``(field, reason)`` of the first NUL among ``fields`` (a body, keyed by the names the
    client sent, e.g. a model's ``model_dump(by_alias=True)``), else None.

    ``subscription.endpoint``, ``userId``; with ``dotted``, list items as pydantic names
    them (``products.3.name``). A no-NUL body costs one :func:`has_nul` walk.
    """
    if not has_nul(fields):
        return None
    return find_nul(fields, "", dotted=dotted)
