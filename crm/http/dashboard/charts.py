"""Bar charts as plain geometry for an SVG template (dashboard/chart_bars.html): no library, no script.

Horizontal positions are percentages, so a chart takes its container's width on a phone and on a
wide screen, and vertical ones are pixels, so its text keeps its size on both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

PLOT_HEIGHT = 180  # px, from the top gridline to the baseline
GUTTER = 8  # % of the width, left of the bars: the gridlines' labels
TOP = 14  # px above the plot: the top gridline's label
AXIS = 22  # px below the plot: the day labels
LABEL_EVERY = 7  # days between day labels, counted back from the last day
BAR_SHARE = 0.7  # of a day's slot
TICKS = 4
WORDS = {"spend_cents": "spent"}  # a series' word in a bar's tooltip (else its key)


@dataclass(frozen=True)
class Bar:
    x: float  # % of the width
    width: float  # %
    y: float  # px
    height: float  # px
    series: str
    title: str


@dataclass(frozen=True)
class Chart:
    id: str
    series: tuple[str, ...]
    bars: list[Bar]
    gridlines: list[tuple[float, str]]  # (y in px, label)
    day_labels: list[tuple[float, str, str]]  # (x in %, text-anchor, text)
    totals: dict[str, int]
    first: date
    last: date
    money: bool

    @property
    def height(self) -> int:
        return TOP + PLOT_HEIGHT + AXIS

    @property
    def baseline(self) -> int:
        return TOP + PLOT_HEIGHT

    @property
    def empty(self) -> bool:
        return not any(self.totals.values())


def day_label(day: date) -> str:
    return f"{day.day} {day:%b}"


def dollars(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


def whole_dollars(cents: int) -> str:
    return f"${cents // 100:,}"


def _step(maximum: int, money: bool) -> int:
    """A round step (1, 2 or 5 x 10^k; whole dollars for money) that fits `maximum` in about TICKS steps."""
    smallest = 100 if money else 1
    raw = max(maximum / TICKS, smallest)
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


def stacked_bars(chart_id: str, rows: list[dict], series: Sequence[str], money: bool = False) -> Chart:
    """One bar per row (a day: `row["day"]`), its `series` stacked bottom up in the order given."""
    fmt = dollars if money else "{:,}".format
    highest = max((sum(row[key] for key in series) for row in rows), default=0)
    step = _step(highest, money)
    top = step * max(1, math.ceil(highest / step))
    scale = PLOT_HEIGHT / top
    slot = (100 - GUTTER) / len(rows)
    bars = []
    for n, row in enumerate(rows):
        base = 0
        for key in series:
            if row[key]:
                height = row[key] * scale
                bars.append(
                    Bar(
                        x=round(GUTTER + n * slot + slot * (1 - BAR_SHARE) / 2, 3),
                        width=round(slot * BAR_SHARE, 3),
                        y=round(TOP + PLOT_HEIGHT - base - height, 2),
                        height=round(height, 2),
                        series=key,
                        title=f"{day_label(row['day'])}: {fmt(row[key])} {WORDS.get(key, key)}",
                    )
                )
                base += height
    tick = whole_dollars if money else fmt  # a money step is whole dollars
    gridlines = [(round(TOP + PLOT_HEIGHT - value * scale, 2), tick(value)) for value in range(0, top + 1, step)]
    last = len(rows) - 1
    day_labels = [
        (round(GUTTER + (n + 0.5) * slot, 3), "end" if n == last else "middle", day_label(rows[n]["day"]))
        for n in range(last, -1, -LABEL_EVERY)
        if n == last or n >= 2  # none cut off at the left edge
    ]
    return Chart(
        id=chart_id,
        series=tuple(series),
        bars=bars,
        gridlines=gridlines,
        day_labels=day_labels,
        totals={key: sum(row[key] for row in rows) for key in series},
        first=rows[0]["day"],
        last=rows[-1]["day"],
        money=money,
    )
