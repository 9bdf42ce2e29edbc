"""How the package's results look in Jupyter: the HTML behind every `_repr_html_`, and progress.

Every value that came from a user or from Constant Contact (names, emails, messages) is escaped
here, so a company called `<script>` shows as text and never runs.
"""

from __future__ import annotations

import html
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

import pandas as pd

ROWS_SHOWN = 10
# Scoped to `div.ctct-card` so that headings and colours win over JupyterLab's generic rules; cells
# keep the front end's own alignment, as its DataFrames do.
_STYLE = (
    "<style>"
    "div.ctct-card{font-family:system-ui,sans-serif;font-size:13px;line-height:1.4;max-width:90em}"
    "div.ctct-card h3{font-size:15px;font-weight:600;margin:.2em 0 .4em}"
    "div.ctct-card h4{font-size:13px;font-weight:600;margin:.8em 0 .2em}"
    "div.ctct-card table{border-collapse:collapse;margin:.2em 0}"
    "div.ctct-card th,div.ctct-card td{padding:2px 8px;text-align:left;vertical-align:top;"
    "border-bottom:1px solid #ddd}"
    "div.ctct-card td.count{text-align:right;font-variant-numeric:tabular-nums}"
    "div.ctct-card .warning{color:#8a5300}div.ctct-card .error{color:#b00020}"
    "div.ctct-card .more{color:#666;font-style:italic}"
    "</style>"
)


def escape(value: object) -> str:
    """A cell or message as HTML text; missing values (None, NaN, NA, NaT) as nothing."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return ""
    return html.escape(str(value))


def heading(text: str, level: int = 3) -> str:
    return f"<h{level}>{escape(text)}</h{level}>"


def paragraph(text: str, css_class: str | None = None) -> str:
    attribute = f' class="{css_class}"' if css_class else ""
    return f"<p{attribute}>{escape(text)}</p>"


def counts_table(rows: Iterable[tuple[str, int]], header: tuple[str, str] = ("change", "rows")) -> str:
    """A two-column table of labelled counts (zeros left out); a line saying so when all are zero."""
    body = "".join(
        f'<tr><td>{escape(label)}</td><td class="count">{count:,}</td></tr>' for label, count in rows if count
    )
    if not body:
        return paragraph("No changes.")
    return f"<table><thead><tr><th>{escape(header[0])}</th><th>{escape(header[1])}</th></tr></thead>{body}</table>"


def frame_table(frame: pd.DataFrame, limit: int = ROWS_SHOWN, more_hint: str = "") -> str:
    """The first `limit` rows of `frame` as an escaped HTML table, then how many more there are."""
    shown = frame.head(limit)
    header = "".join(f"<th>{escape(column)}</th>" for column in shown.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(value)}</td>" for value in row) + "</tr>"
        for row in shown.itertuples(index=False, name=None)
    )
    table = f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"
    if len(frame) > limit:
        hint = f" — {more_hint}" if more_hint else ""
        table += paragraph(f"… and {len(frame) - limit:,} more rows{hint}", "more")
    return table


def messages(items: Sequence[str], css_class: str, limit: int = ROWS_SHOWN) -> str:
    if not items:
        return ""
    listed = "".join(f'<li class="{css_class}">{escape(item)}</li>' for item in items[:limit])
    if len(items) > limit:
        listed += f'<li class="more">… and {len(items) - limit:,} more</li>'
    return f"<ul>{listed}</ul>"


def card(*parts: str) -> str:
    # The ignore classes keep Jupyter's MathJax from reading "$5 … $10" in a name as a formula.
    return _STYLE + '<div class="ctct-card tex2jax_ignore mathjax_ignore">' + "".join(parts) + "</div>"


class ProgressLine:
    """A progress line on stderr: rewritten in place on a terminal, a line per 10 % otherwise
    (the CLI's, and the notebook progress's outside a notebook)."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.last_decile = -1

    def __call__(self, fraction: float, message: str) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        percent = int(fraction * 100)
        line = f"{self.label}: {percent:3d}% {message}"
        if self.stream.isatty():
            self.stream.write("\r" + line.ljust(79) + ("\n" if fraction >= 1 else ""))
        elif percent // 10 > self.last_decile:
            self.last_decile = percent // 10
            self.stream.write(line + "\n")
        self.stream.flush()

    def note(self, message: str) -> None:
        """A step without a known fraction, on a line of its own."""
        line = f"{self.label}: {message}"
        self.stream.write(("\r" + line.ljust(79) if self.stream.isatty() else line) + "\n")
        self.stream.flush()


class NotebookProgress:
    """The `(fraction, message)` callback imports and syncs report to: in a Jupyter notebook a bar
    that redraws in place; anywhere else (a script, a terminal) a `ProgressLine`."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.handle: Any = None
        self.line: ProgressLine | None = None
        if _in_notebook():
            from IPython.display import display

            self.handle = display(self._bundle(0.0, "starting…"), raw=True, display_id=True)
        else:
            self.line = ProgressLine(label)

    def _bundle(self, fraction: float | None, message: str) -> dict[str, str]:
        """The same line as HTML (with a bar when the fraction is known) and as plain text."""
        if fraction is None:
            return {
                "text/html": f'<div class="ctct-progress"><b>{escape(self.label)}</b> {escape(message)}</div>',
                "text/plain": f"{self.label}: {message}",
            }
        percent = int(min(max(fraction, 0.0), 1.0) * 100)
        return {
            "text/html": (
                f'<div class="ctct-progress"><b>{escape(self.label)}</b> '
                f'<progress value="{percent}" max="100" style="width:16em"></progress> '
                f"{percent}% {escape(message)}</div>"
            ),
            "text/plain": f"{self.label}: {percent}% {message}",
        }

    def __call__(self, fraction: float, message: str) -> None:
        if self.line is not None:
            self.line(fraction, message)
        else:
            self.handle.update(self._bundle(fraction, message), raw=True)

    def __enter__(self) -> NotebookProgress:
        return self

    def __exit__(self, _kind: object, error: BaseException | None, _traceback: object) -> None:
        if error is not None:  # the bar must not stay at "starting…" above a traceback
            self.note(f"stopped — {error or type(error).__name__}")

    def note(self, message: str) -> None:
        """A step without a known fraction (reading CTCT page by page), or the last word."""
        if self.line is not None:
            self.line.note(message)
        else:
            self.handle.update(self._bundle(None, message), raw=True)


def _in_notebook() -> bool:
    """True in a Jupyter kernel (whose front end can redraw a display), not in terminal IPython."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return bool(shell) and any(kind.__name__ == "ZMQInteractiveShell" for kind in type(shell).__mro__)
