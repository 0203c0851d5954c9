"""Server-rendered SVG charts (no CDN, no JavaScript): stacked bars, lines, and
points with interval whiskers. Colours are SVG presentation attributes, not CSS,
so the Content-Security-Policy needs nothing for them."""

from __future__ import annotations

import html
import math

from django.utils.safestring import SafeString, mark_safe

from encounters.reports.selectors import Chart

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 64
# Okabe-Ito: told apart with the common colour-vision deficiencies.
COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"]


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    for step in (1, 2, 2.5, 5, 10):
        magnitude = 10 ** len(str(int(value))) / 10
        top = step * magnitude
        if top >= value:
            return top
    return value


def _axes(top: float, y_label: str, percent: bool) -> list[str]:
    out = []
    plot_h = HEIGHT - TOP - BOTTOM
    for i in range(5):
        value = top * i / 4
        y = HEIGHT - BOTTOM - plot_h * i / 4
        text = (
            f"{value:.0%}"
            if percent
            else (f"{value:g}" if value < 10 else f"{value:.0f}")
        )
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#ddd"/><text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="#444">{text}</text>'
        )
    out.append(
        f'<text x="12" y="{TOP + plot_h / 2:.0f}" font-size="11" fill="#444" '
        f'transform="rotate(-90 12 {TOP + plot_h / 2:.0f})" text-anchor="middle">'
        f"{html.escape(str(y_label))}</text>"
    )
    return out


# The width of a character of the axis labels (font-size 11), a little over.
LABEL_CHAR_PX = 6.6


def _x_labels(categories: list[str], slot: float) -> list[str]:
    """Every ``every``-th category, spaced by the width of the longest label with a
    gap, so dates do not touch; a label that would run past the chart's right edge
    ends at it instead of being cut."""
    widest = LABEL_CHAR_PX * max((len(str(c)) for c in categories), default=0)
    every = max(1, math.ceil((widest + 12) / slot))
    out = []
    for i, label in enumerate(categories):
        if i % every:
            continue
        x = LEFT + slot * (i + 0.5)
        anchor = "middle"
        if x + LABEL_CHAR_PX * len(str(label)) / 2 > WIDTH:
            x, anchor = WIDTH - 2, "end"
        out.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" '
            f'text-anchor="{anchor}" fill="#444">{html.escape(str(label))}</text>'
        )
    return out


def _legend(names: list[str]) -> list[str]:
    out, x = [], LEFT
    y = HEIGHT - 18
    for i, name in enumerate(names):
        colour = COLOURS[i % len(COLOURS)]
        out.append(
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{y}" font-size="11" fill="#222">{html.escape(str(name))}</text>'
        )
        x += 24 + 7 * len(name)
    return out


def render(chart: Chart) -> SafeString:
    """The chart as an inline ``<svg>`` with a title and a text description
    (screen readers get the numbers from the table under it)."""
    n = len(chart.categories)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="chart-title" data-testid="chart" '
        f'class="report-chart" width="100%">',
        f'<title id="chart-title">{html.escape(str(chart.title))}</title>',
    ]
    if n == 0:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" '
            'font-size="14" fill="#666">Nothing in this period.</text></svg>'
        )
        return mark_safe("".join(parts))  # noqa: S308 (every text escaped above)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / n
    percent = chart.kind == "intervals"
    if chart.kind == "stacked-bars":
        stacks = [sum((values[i] or 0) for _, values in chart.series) for i in range(n)]
        top = _nice_max(max(stacks))
    elif chart.kind == "intervals":
        top = 1.0
    else:
        found = [v for _, vs in chart.series for v in vs if v is not None]
        top = _nice_max(max(found, default=0))
    parts += _axes(top, chart.y_label, percent)

    def y_of(value: float) -> float:
        return HEIGHT - BOTTOM - plot_h * value / top

    if chart.kind == "stacked-bars":
        bar = max(1.0, slot * 0.7)
        for i in range(n):
            base = 0.0
            for s, (name, values) in enumerate(chart.series):
                value = values[i] or 0
                if not value:
                    continue
                x = LEFT + slot * i + (slot - bar) / 2
                y0, y1 = y_of(base), y_of(base + value)
                parts.append(
                    f'<rect x="{x:.1f}" y="{y1:.1f}" width="{bar:.1f}" '
                    f'height="{y0 - y1:.1f}" fill="{COLOURS[s % len(COLOURS)]}">'
                    f"<title>{html.escape(str(chart.categories[i]))} {html.escape(str(name))}: "
                    f"{value:g}</title></rect>"
                )
                base += value
    elif chart.kind == "lines":
        for s, (name, values) in enumerate(chart.series):
            colour = COLOURS[s % len(COLOURS)]
            points = [
                (LEFT + slot * (i + 0.5), y_of(v), v)
                for i, v in enumerate(values)
                if v is not None
            ]
            if len(points) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
                parts.append(
                    f'<polyline points="{path}" fill="none" stroke="{colour}" '
                    'stroke-width="2"/>'
                )
            for x, y, v in points:
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                    f"<title>{html.escape(str(name))}: {v:g}</title></circle>"
                )
    else:  # intervals
        accuracy = chart.series[0][1] if chart.series else []
        for i, rate in enumerate(accuracy):
            x = LEFT + slot * (i + 0.5)
            bounds = chart.bounds[i] if i < len(chart.bounds) else None
            if bounds is not None:
                low, high = bounds
                parts.append(
                    f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y_of(low):.1f}" '
                    f'y2="{y_of(high):.1f}" stroke="#444" stroke-width="2"/>'
                    f'<line x1="{x - 6:.1f}" x2="{x + 6:.1f}" y1="{y_of(low):.1f}" '
                    f'y2="{y_of(low):.1f}" stroke="#444"/>'
                    f'<line x1="{x - 6:.1f}" x2="{x + 6:.1f}" y1="{y_of(high):.1f}" '
                    f'y2="{y_of(high):.1f}" stroke="#444"/>'
                )
            if rate is not None:
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y_of(rate):.1f}" r="5" '
                    f'fill="{COLOURS[0]}"><title>{html.escape(str(chart.categories[i]))}: '
                    f"{rate:.1%}</title></circle>"
                )
    parts += _x_labels(chart.categories, slot)
    if chart.kind != "intervals":
        parts += _legend([name for name, _ in chart.series])
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (every text escaped above)
