"""Charts for the finance dashboard, drawn server-side as SVG with matplotlib.

No JavaScript and no inline script means the strict CSP holds; the SVG keeps its text as text so
the browser renders the Chinese labels with its own fonts; every chart is shown beside its table.
"""

from __future__ import annotations

import base64
import io
import logging
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

# Chinese glyph metrics come from whichever of FONTS is installed; the browser draws the text itself.
logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
PALETTE = ("#b3261e", "#1f6feb", "#2da44e", "#bf8700", "#8250df")
FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "sans-serif"]


WIDE, NARROW = 6.4, 3.6  # inches at 100 dpi: a desktop column, and a phone held upright
NARROW_LABEL_CHARS = 8


def _figure(width: float = WIDE, height: float = 3.4) -> Figure:
    # Figure without pyplot: no global state, safe in threaded web workers.
    return Figure(figsize=(width, height), dpi=100)


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    with warnings.catch_warnings():
        # Glyph metrics for Chinese text are approximated (the browser draws the text, not matplotlib).
        warnings.simplefilter("ignore", UserWarning)
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    return buffer.getvalue()


def _style(ax: Axes, title: str) -> None:
    ax.set_title(title, loc="left", fontsize=15, pad=12)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=12)
    ax.grid(axis="y", color="#eef0f3")
    ax.set_axisbelow(True)


def _labels(labels: Sequence[str], width: float) -> list[str]:
    """Long labels broken into lines on a narrow chart, so the bars keep most of a phone's width."""
    if width >= WIDE:
        return list(labels)
    n = NARROW_LABEL_CHARS
    return ["\n".join(label[i : i + n] for i in range(0, len(label), n)) or label for label in labels]


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str, *, width: float = WIDE) -> str:
    """A horizontal bar chart (long Chinese labels read better on a phone than rotated ones)."""
    labels = _labels(labels, width)
    with rc_context({"svg.fonttype": "none", "font.family": FONTS}):
        height = max(2.4, 0.45 * len(labels) * (1.5 if width < WIDE else 1) + 1.2)
        fig = _figure(width=width, height=height)
        ax = fig.add_subplot()
        positions = list(range(len(labels)))
        ax.barh(positions, list(values), color=PALETTE[0])
        bar_values = [values]
        ax.set_yticks(positions, list(labels))
        ax.invert_yaxis()
        _style(ax, title)
        ax.grid(axis="x", color="#eef0f3")
        ax.grid(axis="y", visible=False)
        ax.set_xlim(left=0, right=max([1.0, *[v * 1.15 for vs in bar_values for v in vs]]))
        for position, value in zip(positions, values, strict=True):
            ax.text(value, position, f" {value:g}", va="center", fontsize=11)
        return _svg(fig)


def line_chart(
    months: Sequence[str], series: dict[str, Sequence[float]], title: str, *, width: float = WIDE
) -> str:
    """One line per series over months."""
    with rc_context({"svg.fonttype": "none", "font.family": FONTS}):
        fig = _figure(width=width, height=3.4 if width >= WIDE else 3.8)
        ax = fig.add_subplot()
        for index, (name, values) in enumerate(series.items()):
            ax.plot(list(months), list(values), marker="o", color=PALETTE[index % len(PALETTE)], label=name)
        _style(ax, title)
        if all(float(v).is_integer() for values in series.values() for v in values):
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 0.2 of a loan
        ax.tick_params(axis="x", rotation=45)
        if len(series) > 1:
            # Below the month labels, where it cannot cover a line.
            ax.legend(frameon=False, fontsize=11, loc="upper left", bbox_to_anchor=(0, -0.3))
        return _svg(fig)


def funnel_chart(steps: Sequence[str], counts: Sequence[int], title: str, *, width: float = WIDE) -> str:
    """The funnel as decreasing horizontal bars."""
    return bar_chart(steps, [float(c) for c in counts], title, width=width)


def grouped_bar_chart(
    labels: Sequence[str], series: dict[str, Sequence[float]], title: str, *, width: float = WIDE
) -> str:
    """Horizontal bars, one group per label and one bar per series (this period against last year)."""
    labels = _labels(labels, width)
    with rc_context({"svg.fonttype": "none", "font.family": FONTS}):
        count = max(1, len(series))
        per_label = (0.3 * count + 0.25) * (1.4 if width < WIDE else 1)
        height = max(2.4, per_label * len(labels) + 1.4)
        fig = _figure(width=width, height=height)
        ax = fig.add_subplot()
        bar = 0.8 / count
        bar_values = list(series.values())
        for index, (name, values) in enumerate(series.items()):
            positions = [i + index * bar for i in range(len(labels))]
            ax.barh(positions, list(values), height=bar, color=PALETTE[index % len(PALETTE)], label=name)
            for position, value in zip(positions, values, strict=True):
                ax.text(value, position, f" {value:g}", va="center", fontsize=10)
        ax.set_yticks([i + bar * (count - 1) / 2 for i in range(len(labels))], list(labels))
        ax.invert_yaxis()
        _style(ax, title)
        ax.grid(axis="x", color="#eef0f3")
        ax.grid(axis="y", visible=False)
        ax.set_xlim(left=0, right=max([1.0, *[v * 1.15 for vs in bar_values for v in vs]]))
        if len(series) > 1:
            # Below the axes, where it cannot cover a bar (bbox_inches="tight" keeps it in the image).
            ax.legend(frameon=False, fontsize=11, loc="upper left", bbox_to_anchor=(0, -0.12 * 3.4 / height))
        return _svg(fig)


def responsive(draw: Callable[..., str], *args: Any) -> dict[str, str]:
    """The chart drawn for a desktop column and for a phone, as `<img>` sources."""
    return {"wide": data_uri(draw(*args, width=WIDE)), "narrow": data_uri(draw(*args, width=NARROW))}


def data_uri(svg: str) -> str:
    """The chart as an `<img>` source: an image cannot run script, and the CSP allows `data:` images."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
