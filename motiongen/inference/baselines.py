"""Baseline imputers: what a learned imputer (HG-VAE, `motiongen impute`) has to beat.

Every baseline is ``f(positions, missing, **kw) -> filled`` on numpy arrays: ``positions``
``[N, T, J, 3]`` (metres; any values, NaN included, at missing entries) and the bool ``missing``
array of the same shape (True = missing, per coordinate, as `motiongen.inference.occlusion`
makes it). The result has the dtype of ``positions`` (float64 for integer input) and equals it
exactly at every observed entry; only missing entries are computed. Values at missing entries
are never read, so they cannot leak into a fill. All are vectorised with index arithmetic.

When a coordinate has no observed value to draw on (never observed in its sequence), the
fallback is `observed_mean`: its mean over the sequence, else over all sequences, else the mean
of that axis over all joints of the sequence, else of the batch.
"""

from __future__ import annotations

import numpy as np

from motiongen.errors import ConfigError


# --- checks and shared pieces ---------------------------------------------------------------
def _prepare(positions, missing) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions, missing, values): ``values`` is float64 with 0 at missing entries, so NaN or
    inf there cannot reach any arithmetic."""
    positions = np.asarray(positions)
    missing = np.asarray(missing)
    if positions.ndim != 4 or positions.shape[-1] != 3:
        raise ConfigError(f"positions must be [N, T, J, 3], got {list(positions.shape)}")
    if missing.shape != positions.shape:
        raise ConfigError(f"missing {list(missing.shape)} must have the shape of positions "
                          f"{list(positions.shape)}")
    if missing.dtype != bool:
        raise ConfigError(f"missing must be a bool array (True = missing), got {missing.dtype}")
    values = np.where(missing, 0.0, positions.astype(np.float64, copy=False))
    return positions, missing, values


def _result(positions: np.ndarray, missing: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """``positions`` at observed entries (bit for bit), ``fill`` at missing ones."""
    dtype = positions.dtype if np.issubdtype(positions.dtype, np.floating) else np.float64
    return np.where(missing, np.asarray(fill).astype(dtype, copy=False), positions.astype(dtype, copy=False))


def observed_mean(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """``[N, 1, J, 3]`` default fill value per sequence and coordinate: the mean of the observed
    values of that coordinate over the sequence's frames; where it has none, over every sequence's
    frames; then the mean of that axis (x, y or z) over all joints of the sequence; then of the
    batch. ``values`` must hold 0 at missing entries. A `ConfigError` if an axis is never observed
    anywhere in the batch."""
    # One pass over the data; every coarser level is a sum of these per-coordinate sums.
    total = values.sum(axis=1, keepdims=True)  # [N, 1, J, 3]
    count = np.count_nonzero(~missing, axis=1, keepdims=True)
    fill = total / np.maximum(count, 1)
    pending = count == 0
    for axes in ((0,), (2,), (0, 2)):  # all sequences; all joints of the sequence; the batch
        if not pending.any():
            return fill
        level_total = total.sum(axis=axes, keepdims=True)
        level_count = count.sum(axis=axes, keepdims=True)
        usable = pending & (level_count > 0)
        fill = np.where(usable, level_total / np.maximum(level_count, 1), fill)
        pending &= ~usable
    if pending.any():
        axis = "xyz"[int(np.flatnonzero(pending.any(axis=(0, 1, 2)))[0])]
        raise ConfigError(f"the {axis} coordinate is missing everywhere in the batch; "
                          f"pass a mean pose to fill it")
    return fill


def _frames_index(shape) -> np.ndarray:
    return np.arange(shape[1], dtype=np.int32).reshape(1, -1, 1, 1)


def _last_observed_frame(observed: np.ndarray) -> np.ndarray:
    """``[N, T, J, 3]`` int32: per entry the latest observed frame of its coordinate at or before
    it, -1 where there is none yet."""
    return np.maximum.accumulate(np.where(observed, _frames_index(observed.shape), -1), axis=1)


def _next_observed_frame(observed: np.ndarray) -> np.ndarray:
    """``[N, T, J, 3]`` int32: the earliest observed frame at or after each entry, T if none."""
    later = np.where(observed, _frames_index(observed.shape), observed.shape[1])[:, ::-1]
    return np.minimum.accumulate(later, axis=1)[:, ::-1]


def _gather(values: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """``values[n, frame[n, t, j, c], j, c]`` for every entry: one flat take, about twice as fast
    as `np.take_along_axis` on this layout."""
    sequences, frames, joints, _ = values.shape
    stride = joints * 3
    base = (np.arange(sequences, dtype=np.intp) * (frames * stride)).reshape(-1, 1, 1, 1) \
        + np.arange(stride, dtype=np.intp).reshape(1, 1, joints, 3)
    return np.ascontiguousarray(values).reshape(-1)[base + frame.astype(np.intp) * stride]


def _with_fallback(values: np.ndarray, missing: np.ndarray, filled: np.ndarray) -> np.ndarray:
    """``filled``, with `observed_mean` for coordinates never observed in their sequence."""
    never = ~(~missing).any(axis=1, keepdims=True)  # [N, 1, J, 3]
    if not never.any():
        return filled
    return np.where(never, observed_mean(values, missing), filled)


# --- baselines ------------------------------------------------------------------------------
def zero_fill(positions, missing) -> np.ndarray:
    """Missing coordinates set to 0, i.e. the origin of the frame the positions are in (for
    windows in the model's frame, the origin that frame is centred on, not a body joint)."""
    positions, missing, _ = _prepare(positions, missing)
    return _result(positions, missing, 0.0)


def mean_fill(positions, missing, mean=None) -> np.ndarray:
    """Missing coordinates set to ``mean`` — broadcastable to ``[J, 3]``, e.g. the training set's
    mean pose per joint coordinate, metres — or by default to `observed_mean` (the coordinate's
    observed mean over its sequence, else over all sequences)."""
    positions, missing, values = _prepare(positions, missing)
    if mean is None:
        return _result(positions, missing, observed_mean(values, missing))
    joints = positions.shape[2]
    try:
        mean = np.broadcast_to(np.asarray(mean, dtype=np.float64), (joints, 3))
    except ValueError:
        raise ConfigError(f"mean {list(np.shape(mean))} does not broadcast to [{joints}, 3]") from None
    return _result(positions, missing, mean)


def last_observed(positions, missing) -> np.ndarray:
    """Forward fill along time per coordinate: the value at the last observed frame; a leading gap
    takes the first observed value; a coordinate never observed in its sequence `observed_mean`."""
    positions, missing, values = _prepare(positions, missing)
    observed = ~missing
    before = _last_observed_frame(observed)
    first = np.argmax(observed, axis=1, keepdims=True).astype(np.int32)  # 0 when never observed
    filled = _gather(values, np.where(before < 0, first, before))
    return _result(positions, missing, _with_fallback(values, missing, filled))


def linear_interpolation(positions, missing) -> np.ndarray:
    """Per coordinate, linear in time between the nearest observed frames before and after; ahead
    of the first / past the last observed frame it holds that frame's value; a coordinate never
    observed in its sequence takes `observed_mean` (mean_fill's default)."""
    positions, missing, values = _prepare(positions, missing)
    observed = ~missing
    before, after = _last_observed_frame(observed), _next_observed_frame(observed)
    before = np.where(before < 0, after, before)  # ahead of the first observed frame: hold it
    after = np.where(after >= positions.shape[1], before, after)  # past the last: hold that one
    before = np.minimum(before, positions.shape[1] - 1)  # never observed: any frame, replaced below
    after = np.minimum(after, positions.shape[1] - 1)
    start, end = _gather(values, before), _gather(values, after)
    # where after == before the weight multiplies end - start = 0, so it need not be masked
    weight = (_frames_index(positions.shape) - before) / np.maximum(after - before, 1)
    filled = start + weight * (end - start)
    return _result(positions, missing, _with_fallback(values, missing, filled))


BASELINES = {
    "zero": zero_fill,
    "mean": mean_fill,
    "last": last_observed,
    "interp": linear_interpolation,
}
