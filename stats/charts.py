"""Charts as SVG markup, drawn in Python for the finance pages and the monthly report alike.

One drawing for screen and paper: the pages put the SVG inline, the report's HTML does the same and
WeasyPrint prints it. Text stays text (the reader's CJK font draws it). Each chart is drawn at one of
two widths: WIDE for a desktop column or an A4 page, NARROW for a phone held upright (390 px), where
the labels sit above their bars and the month axis thins out instead of overlapping.
Pure computation, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

WIDE, NARROW = 680, 360  # SVG user units; the pages show them at about one unit per CSS pixel
PALETTE = ("#b3261e", "#1f6feb", "#2da44e", "#bf8700", "#8250df")
FONT = "'Noto Sans CJK SC', 'Source Han Sans SC', 'PingFang SC', 'Microsoft YaHei', sans-serif"
TEXT, MUTED, GRID = "#1f2328", "#59636e", "#e6e8eb"
SIZE, SMALL = 13, 11


def _number(value: float) -> str:
    """A value as a chart label: thousands separators, at most 2 decimals, no trailing zeros."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


Format = Callable[[float], str]


@dataclass(frozen=True)
class Svg:
    """An SVG drawing and its text alternative (the chart's title)."""

    markup: str
    title: str

    def __str__(self) -> str:
        return self.markup

    def __html__(self) -> str:  # Jinja's Markup protocol: the drawing is already escaped
        return self.markup


def _text(x: float, y: float, content: str, *, size: int = SIZE, anchor: str = "start",
          fill: str = TEXT, weight: str | None = None) -> str:  # fmt: skip
    bold = ' font-weight="bold"' if weight else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{bold}>'
            f"{escape(content)}</text>")  # fmt: skip


def _svg(width: int, height: float, title: str, body: list[str]) -> Svg:
    markup = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height:.0f}" width="{width}" '
        f'height="{height:.0f}" role="img" aria-label={quoteattr(title)} font-family="{FONT}" '
        f'class="chart-svg">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )
    return Svg(markup, title)


def _legend(names: Sequence[str], y: float, width: int, colors: Sequence[str]) -> tuple[list[str], float]:
    """Legend entries laid left to right, wrapping at the width; returns the marks and the next free y."""
    marks: list[str] = []
    x = 0.0
    size_ = 13 if width == NARROW else SMALL
    for name, color in zip(names, colors, strict=True):
        size = 18 + size_ * len(name) + 14
        if x and x + size > width:
            x, y = 0.0, y + size_ + 7
        marks.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="12" height="10" fill="{color}"/>')
        marks.append(_text(x + 16, y, name, size=size_, fill=MUTED))
        x += size
    return marks, y + 14


def bar_chart(
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    title: str,
    *,
    width: int = WIDE,
    value_format: Format = _number,
    notes: Sequence[str] = (),
) -> Svg:
    """Horizontal bars, a group per label and a bar per series, each label above its bars (long Chinese
    names stay whole on a phone); every bar carries its value."""
    names = list(series)
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(names))]
    body = [_text(0, 18, title, size=15, weight="bold")]
    y = 40.0
    if len(names) > 1:
        marks, y = _legend(names, y, width, colors)
        body += marks
    top = max([0.0, *[float(v) for values in series.values() for v in values]]) or 1.0
    room = width - 90  # the value text stays right of the longest bar
    bar = 12 if len(names) > 1 else 16
    # On a phone the drawing is shown at about its own size: labels as large as the page's small text.
    label_size, value_size = (15, 13) if width == NARROW else (SIZE - 1, SMALL)
    for i, label in enumerate(labels):
        body.append(_text(0, y + label_size - 1, label, size=label_size))
        y += label_size + 6
        for j, name in enumerate(names):
            value = float(series[name][i])
            length = max(1.0, room * value / top) if value else 0.0
            body.append(f'<rect x="0" y="{y:.1f}" width="{length:.1f}" height="{bar}" fill="{colors[j]}"/>')
            body.append(_text(length + 4, y + bar - 2, value_format(value), size=value_size))
            y += bar + 3
        y += 8
    for note in notes:
        body.append(_text(0, y + 10, note, size=SMALL, fill=MUTED))
        y += 16
    return _svg(width, y + 4, title, body)


def line_chart(
    periods: Sequence[str],
    series: dict[str, Sequence[float]],
    title: str,
    *,
    width: int = WIDE,
    partial_last: str | None = None,
    value_format: Format = _number,
) -> Svg:
    """One line per series over `periods` (`YYYY-MM`). With `partial_last` (a note such as "12月截至6日"),
    the last point is a month not yet over: drawn hollow on a dashed segment and explained below.
    Month labels are short (`11月`, the year at January and at the first point) and, when there is no
    room for all of them, every other one is shown."""
    names = list(series)
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(names))]
    body = [_text(0, 18, title, size=15, weight="bold")]
    marks, y = _legend(names, 40.0, width, colors)
    body += marks
    values = [float(v) for values in series.values() for v in values]
    top = _nice(max([0.0, *values]))
    left, right = 52.0, 12.0
    plot_top, plot_height = y + 6, 150.0 if width == NARROW else 140.0
    bottom = plot_top + plot_height
    n = len(periods)
    step = (width - left - right) / max(1, n - 1) if n > 1 else 0.0

    def at(i: int, v: float) -> tuple[float, float]:
        x = left + (i * step if n > 1 else (width - left - right) / 2)
        return x, bottom - plot_height * (v / top if top else 0)

    axis = 13 if width == NARROW else SMALL
    for k in range(5):
        value = top * k / 4
        gy = bottom - plot_height * k / 4
        body.append(f'<line x1="{left}" y1="{gy:.1f}" x2="{width - right}" y2="{gy:.1f}" stroke="{GRID}"/>')
        body.append(_text(left - 6, gy + 4, value_format(value), size=axis, anchor="end", fill=MUTED))
    every = 1 if n * 34 <= width - left else 2
    for i, period in enumerate(periods):
        if (n - 1 - i) % every:
            continue
        x, _y = at(i, 0)
        year, month = period[:4], int(period[5:7])
        body.append(_text(x, bottom + 17, f"{month}月", size=axis, anchor="middle", fill=MUTED))
        if i == 0 or month == 1 or (every == 2 and month == 2):
            body.append(_text(x, bottom + 32, f"{year}年", size=axis - 1, anchor="middle", fill=MUTED))
    for j, name in enumerate(names):
        points = [at(i, float(v)) for i, v in enumerate(series[name])]
        solid = points[:-1] if partial_last and len(points) > 1 else points
        if len(solid) > 1:
            path = " ".join(f"{x:.1f},{py:.1f}" for x, py in solid)
            body.append(f'<polyline points="{path}" fill="none" stroke="{colors[j]}" stroke-width="2"/>')
        if partial_last and len(points) > 1:
            (x1, y1), (x2, y2) = points[-2], points[-1]
            body.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colors[j]}" '
                        f'stroke-width="2" stroke-dasharray="5 4"/>')  # fmt: skip
        for i, (x, py) in enumerate(points):
            hollow = partial_last is not None and i == len(points) - 1
            fill = "#fff" if hollow else colors[j]
            body.append(f'<circle cx="{x:.1f}" cy="{py:.1f}" r="3.5" fill="{fill}" stroke="{colors[j]}" '
                        f'stroke-width="2"/>')  # fmt: skip
    y = bottom + 44
    if partial_last:
        body.append(
            _text(0, y, f"○ 空心点：{partial_last}，数据不完整，不宜与整月比较", size=SMALL, fill=MUTED)
        )
        y += 16
    return _svg(width, y, title, body)


def funnel_chart(steps: Sequence[str], counts: Sequence[int], title: str, *, width: int = WIDE) -> Svg:
    """The funnel as bars, each step with its count and its share of the first step."""
    first = counts[0] if counts else 0

    def with_share(value: float) -> str:
        share = f"（{value / first:.0%}）" if first else ""
        return f"{_number(value)}{share}"

    return bar_chart(steps, {"": [float(c) for c in counts]}, title, width=width, value_format=with_share)


def _nice(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above the value (an axis top with round gridlines)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1) if value >= 1 else 1
    for factor in (1, 2, 2.5, 4, 5, 8, 10):
        if factor * magnitude >= value:
            return float(factor * magnitude)
    return float(10 * magnitude)


@dataclass(frozen=True)
class Responsive:
    """A chart drawn at both widths; the page shows the one that fits, paper the wide one."""

    wide: Svg
    narrow: Svg
    title: str


def responsive(draw: Callable[..., Svg], *args: object, **kwargs: object) -> Responsive:
    """The chart drawn for a desktop column or a page (WIDE) and for a phone (NARROW)."""
    wide = draw(*args, width=WIDE, **kwargs)
    return Responsive(wide, draw(*args, width=NARROW, **kwargs), wide.title)
