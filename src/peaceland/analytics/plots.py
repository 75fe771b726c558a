"""``--plot FILE.png``: a statistic's result as a chart (matplotlib, Agg, no display needed).

matplotlib is the optional extra ``peaceland[plots]``, imported only here and only when a plot
is asked for. Charts by the stat's ``Plot.kind``: ``bar`` (categories), ``barh`` (rankings,
first at the top), ``line`` (over time) and ``heatmap`` (the location grid).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from peaceland.contract import AnalyticsError

from .stats import DEFAULT_PARAMS, Plot, Result, Stat

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

INSTALL_HINT: Final = "plots need matplotlib: pip install 'peaceland[plots]'"
_SIZE: Final = (9.0, 5.5)
_COLOUR: Final = "#3b6ea8"


def plot_result(
    stat: Stat, result: Result, path: Path, subtitle: str = "", cell: float | None = None
) -> Path:
    """Draw ``result`` of ``stat`` into the PNG ``path``; ``cell``: the grid size in degrees
    of a heat map (the stat's default otherwise)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ModuleNotFoundError:
        raise AnalyticsError(INSTALL_HINT) from None
    fig = Figure(figsize=_SIZE, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    spec = stat.plot
    rows = result.rows()
    if not rows:
        ax.text(0.5, 0.5, "no data in this range", ha="center", va="center", fontsize=14)
        ax.set_axis_off()
    elif spec.kind == "heatmap":
        _heatmap(fig, ax, spec, rows, cell or float(DEFAULT_PARAMS["cell"]))
    else:
        _chart(ax, spec, rows)
    ax.set_title(spec.title or stat.name, loc="left")
    if subtitle:
        fig.suptitle(subtitle, fontsize=9, x=0.99, ha="right")
    try:
        fig.savefig(path, format="png", dpi=110)
    except OSError as exc:
        raise AnalyticsError(f"cannot write the plot {path}: {exc.strerror or exc}") from None
    return path


def _chart(ax: Axes, spec: Plot, rows: Sequence[dict[str, Any]]) -> None:
    xs = [row[spec.x] for row in rows]
    ys = [0.0 if row[spec.y] is None else float(row[spec.y]) for row in rows]
    if spec.kind == "line":
        ax.plot(xs, ys, color=_COLOUR, marker="o" if len(xs) < 50 else None, linewidth=1.5)
        ax.set_xlabel(spec.x)
        ax.tick_params(axis="x", labelrotation=30)
    elif spec.kind == "barh":
        labels = [str(x) for x in reversed(xs)]
        ax.barh(labels, list(reversed(ys)), color=_COLOUR)
        ax.set_xlabel(spec.y)
        ax.tick_params(axis="y", labelsize=8 if len(labels) > 15 else 10)
    else:
        ax.bar([str(x) for x in xs], ys, color=_COLOUR)
        ax.set_xlabel(spec.x)
    if spec.kind != "barh":
        ax.set_ylabel(spec.y)
    ax.grid(axis="x" if spec.kind == "barh" else "y", alpha=0.3)


def _heatmap(
    fig: Figure, ax: Axes, spec: Plot, rows: Sequence[dict[str, Any]], cell: float
) -> None:
    """Cells on a regular grid; cells without sightings stay blank."""
    import numpy as np

    value = spec.value or spec.y
    xs = [float(row[spec.x]) for row in rows]
    ys = [float(row[spec.y]) for row in rows]
    x0, y0 = min(xs), min(ys)
    columns = round((max(xs) - x0) / cell) + 1
    lines = round((max(ys) - y0) / cell) + 1
    grid = np.full((lines, columns), np.nan)
    for x, y, row in zip(xs, ys, rows, strict=True):
        grid[round((y - y0) / cell), round((x - x0) / cell)] = float(row[value] or 0)
    x_edges = x0 + cell * np.arange(columns + 1)
    y_edges = y0 + cell * np.arange(lines + 1)
    mesh = ax.pcolormesh(x_edges, y_edges, np.ma.masked_invalid(grid), cmap="YlOrRd")
    fig.colorbar(mesh, ax=ax, label=value)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    middle = math.radians(y0 + lines * cell / 2)
    ax.set_aspect(1 / max(math.cos(middle), 0.1), adjustable="datalim")
