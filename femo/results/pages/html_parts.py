"""Building blocks of ``report/index.html``: escaping, cells, tables, figures, headings.

Pure functions returning HTML text; every string from the data goes through :func:`esc`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import Any

from ..metrics import Metrics
from . import plots
from .formatting import level_of, level_text, percent, span

SECTIONS = (
    ("answer", "Answer"),
    ("confusion", "Confusion and per-class scores"),
    ("profiles", "Per-person profiles"),
    ("timelines", "Timelines"),
    ("clips", "Clips"),
    ("faces", "Faces found"),
    ("provenance", "Speed, provenance and settings"),
)


# Shares on the page: ``62.5 %``; ``n/a`` where unknown.
pct = partial(percent, space=True)


def esc(value: Any) -> str:
    """Escaped text of ``value``; None is an en dash."""
    return "–" if value is None else html.escape(str(value), quote=True)


def with_ci(value: float | None, ci: Sequence[float] | None, as_percent: bool = True) -> str:
    """``62.5 % (41.0–80.2 %)`` for table cells."""
    if value is None:
        return "n/a"
    text = pct(value) if as_percent else f"{value:.3f}"
    shown = span(ci, as_percent)
    return f"{text} ({shown})" if shown else text


def level_label(figures: Metrics | Mapping[str, Any]) -> str:
    """``95 %``: the level a report's (or a comparison's) intervals were computed with."""
    level = figures.level if isinstance(figures, Metrics) else level_of(figures)
    return level_text(level, space=True)


def ci_basis(metrics: Metrics) -> str:
    """``bootstrap over 12 persons``: what the report's intervals resampled."""
    ci = metrics.ci
    n = ci.n_units if ci else None
    unit = "persons" if ci and ci.unit == "group" else "clips"
    if n == 1:
        unit = unit[:-1]
    return f"bootstrap over {n} {unit}" if n is not None else "bootstrap"


def img(png: bytes, alt: str, width: int | None = None) -> str:
    size = f' style="max-width:{width}px"' if width else ""
    return f'<img src="{plots.png_data_uri(png)}" alt="{esc(alt)}"{size}>'


def h2(key: str) -> str:
    title = dict(SECTIONS)[key]
    return f'<h2 id="{key}">{esc(title)}</h2>'


def table(head: Sequence[tuple[str, bool]], rows: Iterable[str], cls: str = "") -> str:
    """A table; ``head`` is ``(escaped label, numeric)``; ``rows`` are ready ``<tr>``."""
    ths = "".join(f'<th class="num">{h}</th>' if num else f"<th>{h}</th>" for h, num in head)
    klass = f' class="{cls}"' if cls else ""
    return (
        f'<div class="scroll"><table{klass}><thead><tr>{ths}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def td(value: Any, num: bool = False, cls: str = "") -> str:
    """A cell of ``value``, escaped."""
    classes = " ".join(c for c in ("num" if num else "", cls) if c)
    attr = f' class="{classes}"' if classes else ""
    return f"<td{attr}>{esc(value)}</td>"


def legend(names: Sequence[str], colours: Sequence[str], extra: str = "") -> str:
    items = "".join(
        f'<span><span class="sw" style="background:{c}"></span>{esc(n)}</span>'
        for n, c in zip(names, colours, strict=True)
    )
    return f'<div class="legend">{items}{extra}</div>'
