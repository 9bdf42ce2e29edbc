"""User data inside Streamlit's Markdown (toasts, captions, messages) must show as typed."""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def plain(text: object) -> str:
    """`text` with every Markdown and HTML-significant character escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))
