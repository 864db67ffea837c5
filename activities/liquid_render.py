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
from liquid.exceptions import LiquidError, TemplateNotFoundError, UndefinedError
from liquid.filter import with_context
from liquid.undefined import StrictDefaultUndefined

from activities.template_filters import FILTERS

SUFFIX = ".liquid"


class _Lookup:
    """What the Jinja filters ask of a context (``get``), over a Liquid render context."""

    def __init__(self, context: Any) -> None:
        self._context = context

    def get(self, name: str, default: Any = None) -> Any:
        return self._context.resolve(name, default=default)


def _adapt(jinja_filter: Callable[..., Any]) -> Callable[..., Any]:
    def liquid_filter(value: Any, *args: Any, context: Any) -> Any:
        return jinja_filter(cast(Any, _Lookup(context)), value, *args)

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
        raise LiquidProblem(str(exc).splitlines()[0]) from exc
