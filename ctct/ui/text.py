"""User data inside Streamlit's Markdown (toasts, captions, messages) must show as typed."""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")
# What Streamlit's Markdown would turn into a link even when every special character is escaped:
# web addresses and email addresses. A value from Constant Contact (a list named
# "Click http://evil.example") must not become a link in the console.
_LINK_LIKE = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.)[^\s'\"]+|[^\s'\"<>()]+@[^\s'\"<>()]+\.[^\s'\"<>()]+")
_BACKTICKS = re.compile(r"`+")


def plain(text: object) -> str:
    """`text` with every Markdown and HTML-significant character escaped, and addresses shown as
    code (no link is made of them)."""
    parts: list[str] = []
    position = 0
    text = str(text)
    for match in _LINK_LIKE.finditer(text):
        parts.append(_MARKDOWN_SPECIAL.sub(r"\\\1", text[position : match.start()]))
        parts.append(_code_span(match.group()))
        position = match.end()
    parts.append(_MARKDOWN_SPECIAL.sub(r"\\\1", text[position:]))
    return "".join(parts)


def _code_span(text: str) -> str:
    """A Markdown code span showing `text` literally: its fence is longer than any run of backticks inside."""
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"
