"""Liquid templates (``*.liquid``), rendered by python-liquid the way Jinja ones are.

So that templates written for Braze, Customer.io, Klaviyo or Dittofeed port over: a message
whose HTML part is ``<name>.html.liquid`` is rendered with Liquid, every part of it
(``.subject.liquid``, ``.preheader.liquid``, ``.html.liquid``, ``.txt.liquid``). Same rules
as Jinja: strict undefined (a typo names the variable), HTML parts autoescaped, the same
context and the same ``money``/``date``/``datetime`` filters (``{{ p.price | money: p.currency
}}``). Liquid's extra tags are on, so layouts work with ``{% extends %}``/``{% block %}``;
partials come with ``{% render "partials/x.html.liquid", items: data.items %}``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import liquid
from liquid import CachingFileSystemLoader
from liquid.exceptions import (
    FilterArgumentError,
    LiquidError,
    TemplateNotFoundError,
    UndefinedError,
)
from liquid.filter import with_context
from liquid.undefined import StrictDefaultUndefined

from activities.template_filters import FILTERS, FilterError

SUFFIX = ".liquid"


class _Lookup:
    """What the Jinja filters ask of a context (``get``), over a Liquid render context."""

    def __init__(self, context: Any) -> None:
        self._context = context

    def get(self, name: str, default: Any = None) -> Any:
        return self._context.resolve(name, default=default)


def _adapt(jinja_filter: Callable[..., Any]) -> Callable[..., Any]:
    def liquid_filter(value: Any, *args: Any, context: Any) -> Any:
        try:
            return jinja_filter(cast(Any, _Lookup(context)), value, *args)
        except FilterError as exc:
            # Liquid adds the token of an argument error: the template, line and expression.
            raise FilterArgumentError(str(exc), token=None) from exc

    return with_context(liquid_filter)


def make_liquid(paths: list[Path], *, html: bool) -> liquid.Environment:
    """A strict Liquid environment over ``paths`` (locale folder first, then ``_shared``);
    ``html`` turns autoescaping on (HTML parts only, as with Jinja)."""
    env = liquid.Environment(
        loader=CachingFileSystemLoader([str(p) for p in paths]),
        # Strict, but ``| default`` still works on a missing key: the idiom Liquid
        # templates use for optional data.
        undefined=StrictDefaultUndefined,
        autoescape=html,
        extra=True,
    )
    for name, jinja_filter in FILTERS.items():
        env.filters[name] = _adapt(jinja_filter)
    return env


class LiquidProblem(Exception):
    """A Liquid template could not be rendered: a missing file, an undefined variable, or
    another error; ``variable`` and ``missing`` say which when known."""

    def __init__(self, message: str, variable: str | None = None, missing: str | None = None):
        super().__init__(message)
        self.variable = variable
        self.missing = missing


def render_liquid(env: liquid.Environment, name: str, context: dict[str, Any]) -> str:
    """Render template file ``name`` with ``context``.

    Raises:
        LiquidProblem: naming the undefined variable or the missing file.
    """
    try:
        return env.get_template(name).render(**context)
    except TemplateNotFoundError as exc:
        raise LiquidProblem(str(exc), missing=str(exc).split(",")[0].strip("'\" ")) from exc
    except UndefinedError as exc:
        text = str(exc).splitlines()[0]
        variable = text.removesuffix(" is undefined") if text.endswith(" is undefined") else None
        raise LiquidProblem(text, variable=variable) from exc
    except LiquidError as exc:
        raise LiquidProblem(_located(exc, name)) from exc


def _located(exc: LiquidError, name: str) -> str:
    """The error's message with where: ``..., at <file> line <n>: <that line>``."""
    token = exc.token
    if token is None or token.start_index < 0:
        return str(exc).splitlines()[0]
    lineno = token.source.count("\n", 0, token.start_index) + 1
    lines = token.source.splitlines()
    source = lines[lineno - 1].strip() if lineno <= len(lines) else ""
    # Liquid names the file at parse time only; at render time the line may be a partial's.
    file = exc.template_name or f"{name} (or a partial it renders)"
    return f"{exc.message}, at {file} line {lineno}" + (f": {source[:160]}" if source else "")
