"""Charts for the finance dashboard, drawn server-side as SVG with matplotlib.

No JavaScript and no inline script means the strict CSP holds; the SVG keeps its text as text so
the browser renders the Chinese labels with its own fonts; every chart is shown beside its table.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure

PALETTE = ("#b3261e", "#1f6feb", "#2da44e", "#bf8700", "#8250df")
FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "sans-serif"]


def _figure(width: float = 6.4, height: float = 3.4) -> Figure:
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


def bar_chart(labels: Sequence[str], values: Sequence[float], title: str) -> str:
    """A horizontal bar chart (long Chinese labels read better on a phone than rotated ones)."""
    with rc_context({"svg.fonttype": "none", "font.family": FONTS}):
        height = max(2.4, 0.45 * len(labels) + 1.2)
        fig = _figure(height=height)
        ax = fig.add_subplot()
        positions = list(range(len(labels)))
        ax.barh(positions, list(values), color=PALETTE[0])
        ax.set_yticks(positions, list(labels))
        ax.invert_yaxis()
        _style(ax, title)
        ax.grid(axis="x", color="#eef0f3")
        ax.grid(axis="y", visible=False)
        for position, value in zip(positions, values, strict=True):
            ax.text(value, position, f" {value:g}", va="center", fontsize=11)
        return _svg(fig)


def line_chart(months: Sequence[str], series: dict[str, Sequence[float]], title: str) -> str:
    """One line per series over months."""
    with rc_context({"svg.fonttype": "none", "font.family": FONTS}):
        fig = _figure()
        ax = fig.add_subplot()
        for index, (name, values) in enumerate(series.items()):
            ax.plot(list(months), list(values), marker="o", color=PALETTE[index % len(PALETTE)], label=name)
        _style(ax, title)
        ax.tick_params(axis="x", rotation=45)
        if len(series) > 1:
            ax.legend(frameon=False, fontsize=11)
        return _svg(fig)


def funnel_chart(steps: Sequence[str], counts: Sequence[int], title: str) -> str:
    """The funnel as decreasing horizontal bars."""
    return bar_chart(steps, [float(c) for c in counts], title)
