"""The one bar chart codelhf draws: grouped bars with interval error bars, for `evaluate` and the study report.

matplotlib runs with the Agg backend (files only), so plots work on machines without a display.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

# (label, values, lows, highs): one bar per tick; a value of NaN draws no bar there.
Series = tuple[str, Sequence[float], Sequence[float], Sequence[float]]


def grouped_bars(path: str | Path, ticks: Sequence[str], series: Sequence[Series], ylabel: str, title: str,
                 ylim: tuple[float, float] | None = None) -> Path:
    """Grouped bars, one group per tick and one colour per series, with (low, high) intervals as error bars."""
    fig, ax = plt.subplots(figsize=(max(7.0, 1.2 * len(ticks) * max(1, len(series)) / 2), 4))
    width = 0.8 / max(1, len(series))
    for i, (label, values, lows, highs) in enumerate(series):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(ticks))]
        errors = [[0.0 if math.isnan(v) else v - lo for v, lo in zip(values, lows)],
                  [0.0 if math.isnan(v) else hi - v for v, hi in zip(values, highs)]]
        ax.bar(xs, values, width, yerr=errors, capsize=3, label=label)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(ticks)), ticks)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
