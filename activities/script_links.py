"""Links in a rendered email that would run script, made inert before the message is stored.

Jinja's autoescape keeps quotes out of ``href="{{ url }}"``, not schemes: an event or catalog
property holding ``javascript:…`` would reach the recipient as a live link. Every start tag is
read by the standard library's HTML tokenizer (so an earlier ``title="href=…"``, spaces around
``=``, unquoted values or a ``>`` inside quotes cannot hide an attribute), and a URL attribute
(``href``, ``xlink:href``, ``action``, ``formaction``) whose URL is ``javascript:``,
``vbscript:`` or ``data:`` becomes ``#``. Only such tags are rewritten; the rest of the HTML
is kept byte for byte.
"""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser

URL_ATTRIBUTES = frozenset({"href", "xlink:href", "action", "formaction"})
SCRIPT_SCHEMES = ("javascript:", "vbscript:", "data:")
INERT = "#"
# Browsers drop control characters and spaces from a URL before reading its scheme.
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20\x7f]+")


def is_script_url(url: str) -> bool:
    """Does ``url`` (entities already decoded) run script or hold a page of its own?"""
    return _IGNORED_IN_SCHEME.sub("", url).lower().startswith(SCRIPT_SCHEMES)


def without_script_links(html: str) -> str:
    """``html`` with every script link's URL replaced by ``#``."""
    finder = _ScriptTags()
    finder.feed(html)
    finder.close()
    if not finder.found:
        return html
    starts = [0] + [i + 1 for i, c in enumerate(html) if c == "\n"]
    out, done = [], 0
    for (line, column), raw, rebuilt in finder.found:
        at = starts[line - 1] + column
        if not html.startswith(raw, at):  # the tokenizer's position is exact; never guess
            raise ValueError(f"script link at line {line} could not be located")
        out += [html[done:at], rebuilt]
        done = at + len(raw)
    out.append(html[done:])
    return "".join(out)


class _ScriptTags(HTMLParser):
    """Collects the start tags holding a script link: where, as written, and rewritten."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[tuple[int, int], str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not any(_scripted(name, value) for name, value in attrs):
            return
        raw = self.get_starttag_text() or ""
        parts = [tag]
        for name, value in attrs:
            if value is None:
                parts.append(name)
            else:
                kept = INERT if _scripted(name, value) else value
                parts.append(f'{name}="{escape(kept, quote=True)}"')
        closing = " />" if raw.endswith("/>") else ">"
        self.found.append((self.getpos(), raw, "<" + " ".join(parts) + closing))


def _scripted(name: str, value: str | None) -> bool:
    return name in URL_ATTRIBUTES and value is not None and is_script_url(value)
