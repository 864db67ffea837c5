"""Turning HTML into the text part, for templates that ship HTML only."""

from __future__ import annotations

from html.parser import HTMLParser

_BLOCKS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "tr", "table", "ul", "ol"}
_SKIP = {"head", "style", "script", "title"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.hidden = 0
        self.href: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in _SKIP:
            self.skip += 1
        # The preheader is hidden in the HTML; in the text part it would be noise.
        if "display:none" in (attributes.get("style") or "").replace(" ", ""):
            self.hidden += 1 if tag not in ("br", "img") else 0
            self.href.append("hidden:" + tag)
            return
        if tag == "br":
            self.out.append("\n")
        elif tag in _BLOCKS:
            self.out.append("\n")
        if tag == "li":
            self.out.append("- ")
        if tag == "td":
            self.out.append(" ")
        if tag == "a":
            self.href.append(attributes.get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        if self.href and self.href[-1] == "hidden:" + tag:
            self.href.pop()
            self.hidden -= 1
            return
        if tag == "a" and self.href:
            href = self.href.pop()
            if href and href.startswith(("http://", "https://")) and not self.hidden:
                self.out.append(f" ({href})")
        if tag in _BLOCKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip and not self.hidden:
            self.out.append(data)


def html_to_text(markup: str) -> str:
    """A readable text part: block elements become lines, links keep their URL in brackets."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.out).splitlines()]
    text = "\n".join(lines).strip()
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text + "\n"
