"""Scripted personas for ``sojourn simulate``: who they are and what they do, when.

A persona is a small JSON (or, with PyYAML installed, YAML) file under
``journeys/personas/<journey>/<name>.json``::

    {
      "description": "opens the welcome at day 1, clicks at day 2, buys at day 6",
      "traits": {"firstName": "Léa", "locale": "fr", "email": "lea@example.com"},
      "entry": {"event": "Signed Up"},
      "steps": [
        {"at": "1d", "event": "Email Opened", "about": "welcome/hello"},
        {"at": "6d", "event": "Order Completed", "properties": {"revenue": 42}}
      ],
      "horizon": "60d"
    }

``at`` is the time since entry (``30m``, ``36h``, ``2d12h``); ``about`` names a template: the
event is about the latest message of that template (its ``email_id``), and is skipped, saying
so, when no such message went out. ``entry`` is an event, or ``{"start": true}`` for journeys
entered by a schedule (segment or date). ``horizon`` bounds how long the journey is followed.

A journey that reads the product catalog (cart abandonment, cross-sell) needs products: a
persona lists them under ``catalog``, in the shape ``POST /v1/catalog/products`` takes, and
the simulation's throw-away store holds exactly those::

    "catalog": [
      {"id": "cam-1", "name": "Compact camera", "price": 499, "currency": "EUR",
       "category": "cameras", "related": ["lens-35", "bag-1"]},
      {"id": "lens-35", "name": "35 mm lens", "price": 249, "currency": "EUR", "stock": 0,
       "alternatives": ["lens-50"]}
    ]
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from store.catalog_models import ProductIn

PERSONAS = Path(__file__).resolve().parent.parent / "journeys" / "personas"
_SPAN = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])")
_UNIT = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def span(text: str | int | float) -> timedelta:
    """``2d12h`` → 2 days 12 hours; a bare number is hours."""
    if isinstance(text, int | float):
        return timedelta(hours=text)
    parts = _SPAN.findall(text)
    if not parts or _SPAN.sub("", text).strip():
        raise ValueError(f"{text!r} is not a duration like 30m, 36h or 2d12h")
    return sum((timedelta(**{_UNIT[u]: float(n)}) for n, u in parts), timedelta())


class PersonaStep(BaseModel):
    """One thing the persona does."""

    at: timedelta
    event: str
    about: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("at", mode="before")
    @classmethod
    def _at(cls, value: Any) -> Any:
        return span(value) if isinstance(value, str | int | float) else value


class PersonaEntry(BaseModel):
    """How the persona enters: an event, or a direct start (schedule-entered journeys)."""

    event: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    start: bool = False


class Persona(BaseModel):
    """A scripted contact."""

    name: str = ""
    description: str = ""
    traits: dict[str, Any] = Field(default_factory=dict)
    entry: PersonaEntry = Field(default_factory=lambda: PersonaEntry(start=True))
    steps: list[PersonaStep] = Field(default_factory=list)
    horizon: timedelta = timedelta(days=60)
    # Products seeded into the simulation's store before entry (POST /v1/catalog/products).
    catalog: list[ProductIn] = Field(default_factory=list)

    @field_validator("horizon", mode="before")
    @classmethod
    def _horizon(cls, value: Any) -> Any:
        return span(value) if isinstance(value, str | int | float) else value


def persona_files(journey: str) -> list[Path]:
    """The personas shipped for ``journey``."""
    folder = PERSONAS / journey
    return sorted(p for p in folder.glob("*") if p.suffix in (".json", ".yaml", ".yml"))


def load_persona(journey: str, name_or_file: str) -> Persona:
    """A persona by name (``journeys/personas/<journey>/<name>.*``) or by file path.

    Raises:
        FileNotFoundError: naming the personas that exist for ``journey``.
        ValueError: naming the file and what in it is wrong.
    """
    path = Path(name_or_file)
    if not path.is_file():
        found = [p for p in persona_files(journey) if p.stem == name_or_file]
        if not found:
            known = ", ".join(p.stem for p in persona_files(journey)) or "none"
            raise FileNotFoundError(
                f"no persona {name_or_file!r} for {journey} (shipped: {known}; or pass a file)"
            )
        path = found[0]
    persona = _parse(path)
    persona.name = persona.name or path.stem
    persona.steps.sort(key=lambda s: s.at)
    return persona


def _parse(path: Path) -> Persona:
    """The persona in ``path``; a file that is not one is a ValueError naming it (the CLI's
    one-line error: JSON and YAML errors said no file, YAML's and pydantic's spanned lines)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"persona {path}: cannot be read as UTF-8 text ({exc})") from None
    if path.suffix in (".yaml", ".yml"):
        import yaml  # type: ignore[import-untyped]  # optional: YAML personas need PyYAML

        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            at = f" at line {where.line + 1}" if where is not None else ""
            raise ValueError(
                f"persona {path}: not YAML{at} ({getattr(exc, 'problem', exc)})"
            ) from None
    else:
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"persona {path}: not JSON ({exc})") from None
    try:
        return Persona.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors())
        raise ValueError(f"persona {path}: {problems}") from None


def _problem(error: Any) -> str:
    """``steps.0.at: 'x' is not a duration …``: where in the persona, and what is wrong."""
    where = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
