"""A training run's ``log.jsonl`` as a picture: one panel per logged quantity against the step.

Each panel draws the logged values thinly and their running mean (about a twentieth of the run)
boldly, because a GAN's losses swing from one log line to the next and the question a reader asks
of them (is the Wasserstein gap shrinking? is the gradient penalty steady?) is about the trend.
Periodic evaluations (records with ``"event": "evaluation"``) get panels of their own, as points.
Used by ``motiongen render RUN -o curves.png`` (through `motiongen.api.render`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motiongen.errors import ConfigError
from motiongen.formats._io import atomic_write
from motiongen.render.pictures import RenderResult, check_output
from motiongen.render.style import LEFT, RIGHT, SIDE_RGB

# Bookkeeping fields of every line, not curves.
NOT_CURVES = frozenset({"step", "time_s", "timestamp", "partial", "event"})
# The WGAN-GP terms first, in the order one reads them; any other quantity follows, by name.
FIRST = ("wasserstein_gap", "critic_loss", "gradient_penalty", "generator_loss", "critic_real", "critic_fake")
ZERO_LINE = frozenset({"wasserstein_gap", "critic_loss", "critic_real", "critic_fake", "generator_loss"})
DPI = 100
LINE_RGB, TREND_RGB = tuple(SIDE_RGB[LEFT]), tuple(SIDE_RGB[RIGHT])  # the pictures' blue and red


@dataclass(frozen=True)
class Curve:
    name: str  # the logged field ("evaluation: fid" for an evaluation's)
    steps: np.ndarray  # float64 [n]
    values: np.ndarray  # float64 [n]; NaN where the log holds null (a non-finite value)
    points: bool  # evaluations: few values, drawn as markers


def curves_from_log(records: list[dict]) -> list[Curve]:
    """Every numeric field of the log as a curve over ``step``. Partial lines (a run's last,
    shorter interval) are left out: they average fewer steps than their neighbours."""
    series: dict[tuple[str, bool], tuple[list, list]] = {}
    for record in records:
        if record.get("partial") or not isinstance(record.get("step"), (int, float)):
            continue
        evaluation = record.get("event") == "evaluation"
        for key, value in record.items():
            if key in NOT_CURVES or isinstance(value, bool) or not (value is None or isinstance(value, (int, float))):
                continue
            steps, values = series.setdefault((key, evaluation), ([], []))
            steps.append(float(record["step"]))
            values.append(np.nan if value is None else float(value))
    order = {name: k for k, name in enumerate(FIRST)}
    keys = sorted(series, key=lambda kv: (kv[1], order.get(kv[0], len(FIRST)), kv[0]))
    return [Curve(f"evaluation: {name}" if evaluation else name, np.asarray(series[name, evaluation][0]),
                  np.asarray(series[name, evaluation][1]), evaluation) for name, evaluation in keys]


def running_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Centred mean over ``window`` values (fewer at the ends), NaNs left out; one cumulative sum."""
    finite = np.isfinite(values)
    sums = np.concatenate([[0.0], np.cumsum(np.where(finite, values, 0.0))])
    counts = np.concatenate([[0], np.cumsum(finite)])
    index = np.arange(len(values))
    low = np.clip(index - window // 2, 0, len(values))
    high = np.clip(index + window // 2 + 1, 0, len(values))
    taken = counts[high] - counts[low]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(taken > 0, (sums[high] - sums[low]) / np.maximum(taken, 1), np.nan)


def step_label(step: float, _position=None) -> str:
    """Tick text: ``12k`` for 12 000 steps, so five ticks of a long run fit a small panel."""
    return f"{step / 1000:g}k" if abs(step) >= 10_000 else f"{step:g}"


def draw_training_curves(records: list[dict], output: str | Path, title: str, columns: int | None = None,
                         size_px: tuple[int, int] = (320, 320)) -> RenderResult:
    """Write a PNG with one panel (``size_px``) per curve of ``records`` to ``output``, atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    output = check_output(output, (".png",))  # curves do not animate
    curves = curves_from_log(records)
    if not curves:
        raise ConfigError(f"{title}: the log holds no logged values yet (no complete log step)")
    width, height = size_px
    if not (160 <= width <= 4096 and 120 <= height <= 4096):
        raise ConfigError(f"--size must be at least 160x120 and at most 4096 pixels a side for curves, "
                          f"got {width}x{height}")
    columns = columns or min(len(curves), 3)
    rows = -(-len(curves) // columns)
    figure = Figure(figsize=(columns * width / DPI, rows * height / DPI + 0.4), dpi=DPI)
    FigureCanvasAgg(figure)
    figure.suptitle(title, fontsize=10)
    for k, curve in enumerate(curves):
        axes = figure.add_subplot(rows, columns, k + 1)
        if curve.points:
            axes.plot(curve.steps, curve.values, "o-", color=LINE_RGB, markersize=3, linewidth=1)
        else:
            axes.plot(curve.steps, curve.values, color=LINE_RGB, alpha=0.35, linewidth=0.8)
            window = max(1, len(curve.values) // 20)
            if window > 1:
                axes.plot(curve.steps, running_mean(curve.values, window), color=TREND_RGB, linewidth=1.5)
        if curve.name in ZERO_LINE:
            axes.axhline(0.0, color="0.5", linewidth=0.6)
        axes.set_title(curve.name, fontsize=9)
        axes.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        axes.xaxis.set_major_formatter(FuncFormatter(step_label))
        axes.tick_params(labelsize=7)
        axes.grid(alpha=0.3)
        if k >= len(curves) - columns:
            axes.set_xlabel("step", fontsize=8)
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    with atomic_write(output, binary=True) as stream:
        figure.savefig(stream, format="png", dpi=DPI)
    pixels = (round(figure.get_figwidth() * DPI), round(figure.get_figheight() * DPI))
    return RenderResult(path=output, frame_count=1, size=pixels)
