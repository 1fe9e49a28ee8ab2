"""A small, dependency-free HTML report writer: escaped text, tables, image tags, one file.

Reports are self-contained folders: ``report.html`` refers to its images by paths relative to
its own folder, so the folder can be moved, zipped or served as is. Every piece of text goes
through :func:`html.escape`; only the writer's own tags are emitted unescaped.

Example::

    rep = HtmlReport("latentatlas explore")
    rep.heading("Samples")
    rep.image("figures/samples.png", alt="samples")
    rep.table([["Smiling", 0.97]], header=["attribute", "val. accuracy"])
    rep.write("out/report.html")
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from latentatlas.utils.atomic import atomic_write_bytes
from latentatlas.utils.errors import ShapeError

_STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; line-height: 1.45; padding: 0 1em; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #bbb; padding-bottom: .15em; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; }
td.text, th.text { text-align: left; }
figure { display: inline-block; margin: .5em 1em .5em 0; vertical-align: top; }
figcaption { font-size: 13px; color: #555; max-width: 600px; }
img { max-width: 100%; image-rendering: pixelated; border: 1px solid #ddd; }
code, pre { background: #f6f6f6; padding: 1px 4px; }
.note { color: #555; font-size: 14px; }
"""


def escape(text: Any) -> str:
    """HTML-escaped ``str(text)`` (quotes included)."""
    return html.escape(str(text), quote=True)


def format_cell(value: Any, digits: int = 3) -> str:
    """Text of one table cell: floats with ``digits`` decimals, NaN / None as an em dash."""
    if value is None:
        return "\u2014"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) or (hasattr(value, "dtype") and hasattr(value, "item")):
        v = float(value)
        if math.isnan(v):
            return "\u2014"
        return f"{v:.{digits}f}"
    return str(value)


def table_html(
    rows: Iterable[Sequence[Any]],
    header: Sequence[Any] | None = None,
    digits: int = 3,
    caption: str | None = None,
) -> str:
    """An escaped ``<table>``; numeric cells are right-aligned, text cells left-aligned."""
    rows = [list(r) for r in rows]
    width = len(header) if header is not None else (len(rows[0]) if rows else 0)
    for i, r in enumerate(rows):
        if len(r) != width:
            raise ShapeError(f"table row {i} has {len(r)} cells, expected {width}")
    parts = ["<table>"]
    if caption:
        parts.append(f"<caption>{escape(caption)}</caption>")
    if header is not None:
        parts.append("<tr>" + "".join(f'<th class="text">{escape(h)}</th>' for h in header)
                     + "</tr>")
    for r in rows:
        cells = []
        for v in r:
            cls = "" if isinstance(v, (int, float)) and not isinstance(v, bool) else ' class="text"'
            cells.append(f"<td{cls}>{escape(format_cell(v, digits))}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</table>")
    return "\n".join(parts)


def image_html(src: str, alt: str = "", caption: str | None = None,
               width: int | None = None) -> str:
    """A ``<figure>`` with an ``<img>`` (``src`` must be a relative path) and optional caption."""
    if os.path.isabs(src) or "://" in src:
        raise ShapeError(f"report images must use relative paths, got {src!r}")
    size = f' width="{int(width)}"' if width else ""
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return (f'<figure><img src="{escape(Path(src).as_posix())}" alt="{escape(alt)}"{size}>'
            f"{cap}</figure>")


class HtmlReport:
    """Builds one self-contained HTML page from headings, paragraphs, tables and images."""

    def __init__(self, title: str) -> None:
        self.title = str(title)
        self._parts: list[str] = [f"<h1>{escape(self.title)}</h1>"]
        self.images: list[str] = []

    def heading(self, text: str, level: int = 2, anchor: str | None = None) -> HtmlReport:
        if not 1 <= level <= 6:
            raise ShapeError(f"heading level must be 1..6, got {level}")
        ident = f' id="{escape(anchor)}"' if anchor else ""
        self._parts.append(f"<h{level}{ident}>{escape(text)}</h{level}>")
        return self

    def paragraph(self, text: str, note: bool = False) -> HtmlReport:
        cls = ' class="note"' if note else ""
        self._parts.append(f"<p{cls}>{escape(text)}</p>")
        return self

    def bullets(self, items: Iterable[Any]) -> HtmlReport:
        self._parts.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>")
        return self

    def code(self, text: str) -> HtmlReport:
        self._parts.append(f"<pre>{escape(text)}</pre>")
        return self

    def table(self, rows: Iterable[Sequence[Any]], header: Sequence[Any] | None = None,
              digits: int = 3, caption: str | None = None) -> HtmlReport:
        self._parts.append(table_html(rows, header, digits, caption))
        return self

    def image(self, src: str, alt: str = "", caption: str | None = None,
              width: int | None = None) -> HtmlReport:
        self._parts.append(image_html(src, alt, caption, width))
        self.images.append(Path(src).as_posix())
        return self

    def render(self) -> str:
        body = "\n".join(self._parts)
        return (
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{escape(self.title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
            f"<body>\n{body}\n</body>\n</html>\n"
        )

    def write(self, path: str | os.PathLike) -> Path:
        """Write the page atomically (UTF-8)."""
        return atomic_write_bytes(path, self.render().encode("utf-8"))


__all__ = ["HtmlReport", "escape", "format_cell", "image_html", "table_html"]
