"""Typed reads of JSON object keys that behave the same on SQLite and PostgreSQL.

A value of another JSON type than asked for reads as NULL, so ``plan = "3"`` never matches the
number 3 on one backend and not on the other, and a stray string never breaks a numeric cast.
Keys are identifiers (the rule models check them), so they are safe to inline in paths.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

# JSON type names per backend, for each kind a rule value can have.
_SQLITE_TYPES = {"number": ("integer", "real"), "string": ("text",), "bool": ("true", "false")}
_PG_TYPES = {"number": ("number",), "string": ("string",), "bool": ("boolean",)}


def _lit(text: str) -> Any:
    return sa.literal_column(f"'{text}'")


def typed(col: Any, key: str, kind: str, dialect: str) -> Any:
    """``col[key]`` as a number, string or bool SQL value; NULL when absent or of another type."""
    if dialect == "postgresql":
        element = col.op("->")(_lit(key))
        text = col.op("->>")(_lit(key))
        jtype = sa.func.json_typeof(element)
        value: Any = {
            "number": sa.cast(text, sa.Float),
            "string": text,
            "bool": sa.cast(text, sa.Boolean),
        }[kind]
        return sa.case((jtype.in_(_PG_TYPES[kind]), value), else_=sa.null())
    path = _lit(f"$.{key}")
    jtype = sa.func.json_type(col, path)
    value = sa.func.json_extract(col, path)
    if kind == "number":
        value = sa.cast(value, sa.Float)
    return sa.case((jtype.in_(_SQLITE_TYPES[kind]), value), else_=sa.null())


def present(col: Any, key: str, dialect: str) -> Any:
    """True when ``col[key]`` exists and is not JSON null."""
    if dialect == "postgresql":
        return col.op("->>")(_lit(key)).is_not(None)
    return sa.func.json_extract(col, _lit(f"$.{key}")).is_not(None)


def has_element(col: Any, value: str, dialect: str) -> Any:
    """True when the JSON array in ``col`` contains the string ``value``."""
    fn = "json_array_elements_text" if dialect == "postgresql" else "json_each"
    elements = getattr(sa.func, fn)(col).table_valued("value")
    return sa.exists(
        sa.select(sa.literal(1)).select_from(elements).where(elements.c.value == value)
    )
