"""Jinja2 rendering of message templates: subject, preheader, HTML and text, per locale.

Layout of ``journeys/templates``::

    _shared/layouts/base.html.j2       layouts every locale extends
    _shared/partials/*.html.j2         macros and snippets without words
    en/partials/footer.html.j2         snippets with words, one per locale
    en/welcome/hello.subject.j2        a message: subject, preheader (optional),
    en/welcome/hello.preheader.j2      html, and txt (optional: derived from the
    en/welcome/hello.html.j2           HTML when missing)
    fr/welcome/hello.subject.j2        ...and the same message in French

A message is rendered in the first locale that has it: the contact's (``fr-CA``, then ``fr``),
then the default. Templates may one day be written by marketers, so the environment is a
sandbox (no attribute access to Python internals, no mutation), HTML is autoescaped and every
variable must be defined: a typo fails that send with an error naming template and variable.
CSS is inlined by ``css-inline`` because most email clients ignore ``<style>``.

A message whose HTML part is ``<name>.html.liquid`` is a Liquid template instead, every part
of it (see :mod:`activities.liquid_render`); Jinja stays the default.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import css_inline
import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from activities.htmltext import html_to_text
from activities.liquid_render import LiquidProblem, make_liquid, render_liquid
from activities.script_links import without_script_links
from activities.template_filters import FILTERS, FilterError, default

TEMPLATES = Path(__file__).resolve().parent.parent / "journeys" / "templates"
SHARED = "_shared"
DEFAULT_LOCALE = "en"
# Every built-in template ships in each of these; ``sojourn templates check`` enforces it.
REQUIRED_LOCALES = ("fr", "en")
_UNDEFINED = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")
# The HTML part's suffix of a message, per template language.
HTML_SUFFIXES = (".html.j2", ".html.liquid")
TEMPLATE_SUFFIXES = (".j2", ".html")
_SURROGATE = re.compile("[\ud800-\udfff]")
_TAG = re.compile(r"[a-z]{2,8}(-[a-z0-9]{1,8})*")
_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)

__all__ = ["Rendered", "Renderer", "TemplateError", "html_to_text", "locale_candidates"]


class TemplateError(Exception):
    """A template that cannot be rendered; the message names template and variable."""

    def __init__(
        self, template: str, problem: str, variable: str | None = None, where: str = ""
    ) -> None:
        self.template = template
        self.variable = variable
        detail = f"variable '{variable}' is undefined" if variable else problem
        super().__init__(f"template {template}{f' ({where})' if where else ''}: {detail}")


@dataclass(frozen=True)
class Rendered:
    """One rendered message, in the locale it was rendered in."""

    subject: str
    html: str
    text: str
    preheader: str = ""
    locale: str = DEFAULT_LOCALE


def locale_candidates(wanted: str | None, default: str = DEFAULT_LOCALE) -> list[str]:
    """Locales to try, most specific first: ``fr_CA`` → ``fr-ca``, ``fr``, then ``default``."""
    found: list[str] = []
    if wanted:
        tag = wanted.strip().replace("_", "-").lower()
        found += [tag, tag.split("-")[0]]
    # A candidate names a folder under the templates: the contact's locale is app data, so
    # "../../x" or "/" must not choose where templates are read from ("fr_FR.UTF-8" still
    # gets "fr").
    found = [c for c in found if _TAG.fullmatch(c)]
    found.append(default)
    return list(dict.fromkeys(c for c in found if c))


def scrub(text: str) -> str:
    """``text`` with lone UTF-16 surrogates replaced by U+FFFD, as any decoder shows them.

    JSON may carry half an emoji (``"\\ud83d"``, from an app that cut a string in UTF-16
    units); no mail, SMS or database encoding can hold one, so the send failed on encoding.
    """
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def failure(exc: Exception, root: Path = TEMPLATES) -> str:
    """What went wrong while rendering, and where: file, line and that line's expression.

    Jinja rewrites tracebacks so that a template's frames carry its file and line. Only the
    exception's type is kept from a non-filter error: its text may quote the contact's data.
    """
    if isinstance(exc, FilterError):
        problem = str(exc)
    else:
        problem = f"{type(exc).__name__} in an expression (a value of an unexpected type?)"
    frames = [
        f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(TEMPLATE_SUFFIXES)
    ]
    if not frames:
        return problem
    frame = frames[-1]
    path = Path(frame.filename)
    name = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    line = " ".join((frame.line or "").split())
    return f"{problem}, at {name} line {frame.lineno}" + (f": {line[:400]}" if line else "")


def make_environment(root: Path = TEMPLATES, locale: str | None = None) -> jinja2.Environment:
    """The sandboxed, strict environment of one locale: its own folder, then ``_shared``.

    Without ``locale``, a flat folder of templates (no locale variants), as tests use.
    """
    paths = [root / locale, root / SHARED] if locale else [root]
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader([str(p) for p in paths]),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2", "html")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    env.filters["default"] = env.filters["d"] = default
    return env


class Renderer:
    """Renders message templates; one long-lived environment per locale.

    Args:
        root: the templates folder; or one ready environment over a flat folder (no locale
            variants: every contact gets the same text).
        default_locale: the locale used when the contact's has no variant of a message.
    """

    def __init__(
        self, root: Path | jinja2.Environment = TEMPLATES, default_locale: str = DEFAULT_LOCALE
    ) -> None:
        self.default_locale = default_locale
        self._envs: dict[str, jinja2.Environment] = {}
        self._liquid: dict[tuple[str, bool], Any] = {}
        self._flat: jinja2.Environment | None = None
        if isinstance(root, jinja2.Environment):
            self._flat = root
            root = Path(".")
        self.root = root

    @cached_property
    def locales(self) -> list[str]:
        """The locales that have a folder of templates."""
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("_")
        )

    def templates(self, locale: str | None = None) -> list[str]:
        """Names of the messages (``welcome/hello``) of ``locale``, or of any locale."""
        names: set[str] = set()
        for loc in [locale] if locale else self.locales:
            base = self.root / loc
            for suffix in HTML_SUFFIXES:
                for path in base.rglob(f"*{suffix}"):
                    rel = path.relative_to(base).as_posix()
                    if not rel.startswith(("partials/", "layouts/")):
                        names.add(rel.removesuffix(suffix))
        return sorted(names)

    def has(self, template: str, locale: str) -> bool:
        """Does ``locale`` have its own variant of ``template``?"""
        if self._flat is not None:
            return True
        return any((self.root / locale / f"{template}{s}").is_file() for s in HTML_SUFFIXES)

    def is_liquid(self, template: str, locale: str) -> bool:
        """Is ``locale``'s variant of ``template`` written in Liquid?"""
        if self._flat is not None:
            return False
        return (self.root / locale / f"{template}.html.liquid").is_file()

    def resolve(self, template: str, locale: str | None) -> str:
        """The locale a contact with ``locale`` gets ``template`` in."""
        for candidate in locale_candidates(locale, self.default_locale):
            if self.has(template, candidate):
                return candidate
        looked = ", ".join(
            f"{c}/{template}{suffix}"
            for c in locale_candidates(locale, self.default_locale)
            for suffix in HTML_SUFFIXES
        )
        raise TemplateError(template, f"no such template (looked for {looked} under {self.root})")

    def env(self, locale: str) -> jinja2.Environment:
        """The environment of ``locale``, created once."""
        if self._flat is not None:
            return self._flat
        if locale not in self._envs:
            self._envs[locale] = make_environment(self.root, locale)
        return self._envs[locale]

    def render(self, template: str, context: dict[str, Any], locale: str | None = None) -> Rendered:
        """Render all parts of ``template`` for ``locale`` (default: ``context['locale']``).

        Raises:
            TemplateError: naming the template and, when one is undefined, the variable.
                Nothing is returned half-rendered.
        """
        chosen = self.resolve(template, locale or context.get("locale"))
        # Filters format money and dates in the locale the message is actually written in.
        ctx = {**context, "locale": chosen}
        subject = " ".join(scrub(self._part(template, chosen, "subject", ctx)).split())
        preheader = " ".join(scrub(self._part(template, chosen, "preheader", ctx, True)).split())
        ctx.update(subject=subject, preheader=preheader)
        try:
            html = without_script_links(scrub(self._part(template, chosen, "html", ctx)))
        except ValueError as exc:  # never sent with a script link left live: fail for good
            raise TemplateError(template, str(exc)) from exc
        text = scrub(self._part(template, chosen, "txt", ctx, True)) or html_to_text(html)
        try:
            html = _INLINER.inline(html)
        except ValueError as exc:
            raise TemplateError(template, f"CSS could not be inlined: {exc}") from exc
        return Rendered(subject=subject, html=html, text=text, preheader=preheader, locale=chosen)

    def _part(
        self, template: str, locale: str, part: str, ctx: dict[str, Any], optional: bool = False
    ) -> str:
        where = f"{locale} {part}"
        if self.is_liquid(template, locale):
            return self._liquid_part(template, locale, part, ctx, optional, where)
        name = f"{template}.{part}.j2"
        try:
            return self.env(locale).get_template(name).render(ctx)
        except jinja2.TemplateNotFound as exc:
            if optional and exc.name == name:
                return ""
            raise TemplateError(template, f"missing file {exc.name}", where=where) from exc
        except jinja2.UndefinedError as exc:
            match = _UNDEFINED.search(str(exc))
            variable = (match.group(1) or match.group(2)) if match else None
            raise TemplateError(template, str(exc), variable=variable, where=where) from exc
        except SecurityError as exc:
            problem = f"not allowed in a template: {exc}"
            raise TemplateError(template, problem, where=where) from exc
        except jinja2.TemplateError as exc:
            raise TemplateError(template, str(exc), where=where) from exc
        except (ArithmeticError, LookupError, TypeError, ValueError) as exc:
            # A filter given data it cannot format, or an expression on loosely typed data
            # (``item.quantity > 1`` with ``"2"``). Rendering is deterministic: a retry would
            # fail the same way for ever, so it fails for good, saying where.
            raise TemplateError(template, failure(exc, self.root), where=where) from exc

    def _liquid_part(
        self,
        template: str,
        locale: str,
        part: str,
        ctx: dict[str, Any],
        optional: bool,
        where: str,
    ) -> str:
        name = f"{template}.{part}.liquid"
        html = part == "html"
        if (locale, html) not in self._liquid:
            paths = [self.root / locale, self.root / SHARED]
            self._liquid[(locale, html)] = make_liquid(paths, html=html)
        try:
            return render_liquid(self._liquid[(locale, html)], name, ctx)
        except LiquidProblem as exc:
            if exc.missing is not None:
                if optional and exc.missing == name:
                    return ""
                raise TemplateError(template, f"missing file {exc.missing}", where=where) from exc
            raise TemplateError(template, str(exc), variable=exc.variable, where=where) from exc
