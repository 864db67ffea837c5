"""Jinja2 rendering of message templates: subject, HTML and text parts.

A message template ``welcome/hello`` is three files under ``journeys/templates``:
``welcome/hello.subject.j2``, ``welcome/hello.html.j2`` and ``welcome/hello.txt.j2``.
HTML is autoescaped; every variable must be defined (``StrictUndefined``), so a typo fails the
send with an error naming the template and the variable instead of mailing a blank.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

TEMPLATES = Path(__file__).resolve().parent.parent / "journeys" / "templates"
_UNDEFINED = re.compile(r"'([^']+)' is undefined")


class TemplateError(Exception):
    """A template that cannot be rendered; the message names template and variable."""

    def __init__(self, template: str, problem: str, variable: str | None = None) -> None:
        self.template = template
        self.variable = variable
        detail = f"variable '{variable}' is undefined" if variable else problem
        super().__init__(f"template {template}: {detail}")


@dataclass(frozen=True)
class Rendered:
    """One rendered message."""

    subject: str
    html: str
    text: str


def make_environment(root: Path = TEMPLATES) -> jinja2.Environment:
    """The sandboxed, strict Jinja environment used for every message."""
    return SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(root)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2", "html")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


class Renderer:
    """Renders message templates from one long-lived environment."""

    def __init__(self, env: jinja2.Environment | None = None) -> None:
        self.env = env or make_environment()

    def render(self, template: str, context: dict[str, Any]) -> Rendered:
        """Render all parts of ``template``; raises :class:`TemplateError`."""
        parts: dict[str, str] = {}
        for part in ("subject", "html", "txt"):
            try:
                parts[part] = self.env.get_template(f"{template}.{part}.j2").render(context)
            except jinja2.TemplateNotFound as exc:
                if part == "txt":
                    parts[part] = ""
                    continue
                raise TemplateError(template, f"missing file {exc.name}") from exc
            except jinja2.UndefinedError as exc:
                match = _UNDEFINED.search(str(exc))
                raise TemplateError(
                    template, str(exc), variable=match.group(1) if match else None
                ) from exc
            except jinja2.TemplateError as exc:
                raise TemplateError(template, str(exc)) from exc
        text = parts["txt"] or html_to_text(parts["html"])
        return Rendered(subject=" ".join(parts["subject"].split()), html=parts["html"], text=text)


def html_to_text(markup: str) -> str:
    """A plain-text part for templates that ship HTML only: drop head and tags, keep lines."""
    body = re.sub(r"(?is)<(head|style|script)\b.*?</\1>", "", markup)
    body = re.sub(r"(?i)<br\s*/?>|</(p|h[1-6]|li|div|tr)>", "\n", body)
    body = re.sub(r"<[^>]+>", "", body)
    lines = [" ".join(line.split()) for line in html_lib.unescape(body).splitlines()]
    return "\n".join(line for line in lines if line).strip() + "\n"
