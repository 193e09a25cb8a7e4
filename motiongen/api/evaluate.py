"""``evaluate``: a generator checkpoint measured against held-out real clips with a frozen
recogniser (issue 6; the protocol of Action2Motion / ACTOR / MDM).

For each of ``repeats`` rounds, ``samples`` clips are generated with fresh seeds (sample k of round
r uses seed ``seed + r·samples + k``), their actions drawn like the real test windows' (so the
sets compare like with like). Reported per metric: mean and 95% interval over the rounds, for the
generated set and, beside it, the same figure for real clips:

- FID: generated vs real test features; the real floor is FID(training windows, test windows)
  with a training subset of the same size and the test windows' action mix per round.
- accuracy: the recogniser's on generated clips (against the asked action) and on real test clips.
- diversity, multimodality (Action2Motion): generated, and of the real test windows.
- MMD_a, MMD_s (Wang et al. 2020; SA-GCN): over whole sets (not one clip per class), generated vs
  test, and training vs test for real.
- plausibility: bone-length variation (mm), foot-skating ratio, jitter (m/s³): generated clips,
  and the real test windows.

Clips longer than the recogniser's window are cut into back-to-back windows; headline metrics pool
every window, and FID is also given per window position, so drift along a long clip shows.
The real data are prepared like the recogniser's own training data (skeleton, fps, window, the
held-out subjects stored in its checkpoint unless ``subjects`` is given).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from motiongen.errors import ConfigError
from motiongen.metrics.generation import fid, mean_interval

REAL_STRIDE_DIVISOR = 8
METRICS = ("fid", "accuracy", "diversity", "multimodality", "mmd_a", "mmd_s",
           "bone_variation_mm", "foot_skating", "jitter")
LABELS = {"fid": "FID (real: train vs test floor)", "accuracy": "recognition accuracy",
          "diversity": "diversity", "multimodality": "multimodality", "mmd_a": "MMD_a", "mmd_s": "MMD_s",
          "bone_variation_mm": "bone-length variation (mm)", "foot_skating": "foot-skating ratio",
          "jitter": "jitter (m/s³)"}


def real_reference(recognizer, data: str | Path, subjects: list[str] | None):
    """The real test and training windows of ``data`` as the recogniser sees them."""
    from motiongen.data import prepare_dataset
    from motiongen.metrics.evaluation import RealReference

    holdout = list(subjects) if subjects else recognizer.holdout_subjects
    if not holdout:
        raise ConfigError(f"{recognizer.checkpoint.path}: the recogniser was trained without --holdout-subjects; "
                          "say which subjects are the test set with --subjects")
    # Windows every eighth of a window: CMU clips are short, and FID needs many real windows.
    dataset = prepare_dataset(data, skeleton=recognizer.skeleton, frames=recognizer.frames, fps=recognizer.fps,
                              stride=max(1, recognizer.frames // REAL_STRIDE_DIVISOR), holdout_subjects=tuple(holdout))
    if "test" not in dataset.split_names() or "train" not in dataset.split_names():
        raise ConfigError(f"{data}: subjects {', '.join(holdout)} leave no test or no training windows")
    test, train = dataset.split("test"), dataset.split("train")
    test_labels = recognizer.labels_for([dataset.actions[k] for k in test.labels])
    train_labels = recognizer.labels_for([dataset.actions[k] for k in train.labels])
    # only training windows of the test set's actions can enter the floor: embed just those
    floor_candidates = np.isin(train_labels, test_labels)
    test_windows = np.asarray(test.windows, dtype=np.float32)
    train_windows = np.asarray(train.windows[floor_candidates], dtype=np.float32)
    train_labels = train_labels[floor_candidates]
    test_features, test_logits = recognizer.embed(test_windows)
    train_features, _ = recognizer.embed(train_windows)
    reference = RealReference(test_windows=test_windows, test_features=test_features, test_logits=test_logits,
                              test_labels=test_labels, train_windows=train_windows, train_features=train_features,
                              train_labels=train_labels)
    return reference, holdout, [dataset.actions[k] for k in test.labels]


@dataclass
class GeneratorSource:
    """A generator and what turns its features into metres: from a checkpoint, or, during
    training, from the run's EMA generator and its dataset."""

    generator: object
    normalization: object  # Normalization or its dict
    skeleton: object
    fps: float
    actions: list[str]
    frames: int  # its training window

    @classmethod
    def from_checkpoint(cls, checkpoint) -> "GeneratorSource":
        return cls(checkpoint.pair.generator, checkpoint.normalization, checkpoint.skeleton, checkpoint.fps,
                   list(checkpoint.actions), int(checkpoint.frames))


def generated_positions(source: GeneratorSource, actions: list[str], frames: int, seeds: list[int],
                        truncation: float, device, target_skeleton, target_fps: float,
                        batch_size: int = 64, as_bvh: bool = False, plant_feet: bool = False) -> np.ndarray:
    """``[N, T', J, 3]`` clips of ``actions[k]`` with ``seeds[k]`` on the recogniser's skeleton and
    fps; ``plant_feet``: feet on the floor held still as `sample` does by default (`footplant`);
    ``as_bvh``: as `sample` writes them to BVH (IK onto the generator's fixed skeleton, then
    forward kinematics), so bone lengths and foot contact are those of the file a user gets."""
    from motiongen.core import kinematics
    from motiongen.inference.sampling import generate_features, positions_from_features

    order = np.argsort(np.array(actions), kind="stable")
    names = np.array(actions)[order]
    chunks = []
    for name in dict.fromkeys(names):  # one batched generation per action
        chosen = order[names == name]
        features = generate_features(source.generator, source.actions.index(name), frames,
                                     [seeds[k] for k in chosen], truncation, device, batch_size)
        chunks.append(positions_from_features(features, source.normalization, source.skeleton,
                                              plant_feet=plant_feet))
    positions = np.empty((len(actions), *chunks[0].shape[1:]), dtype=np.float32)
    positions[order] = np.concatenate(chunks)
    if as_bvh:  # IK onto the fixed skeleton and FK back, every frame of every clip at once
        local, root = kinematics.inverse_kinematics(positions.reshape(-1, *positions.shape[2:]), source.skeleton)
        positions = kinematics.skeleton_fk(source.skeleton, local, root).reshape(positions.shape).astype(np.float32)
        if plant_feet:  # again on the fixed bone lengths, as sample does before writing
            from motiongen.inference.footplant import plant_skeleton_feet

            positions = plant_skeleton_feet(positions, source.skeleton)
    return onto_target(positions, source.skeleton, source.fps, target_skeleton, target_fps)


def recognised(source: GeneratorSource, recognizer, action: str, seeds: list[int], truncation: float = 1.0,
               device="cpu") -> tuple[np.ndarray, list[str]]:
    """The recogniser's features ``[N, D]`` of ``action``'s samples (one per seed) and what it reads
    each as: clips of the recogniser's window, generated at the model's own fps, feet planted as
    `sample` writes them."""
    native = int(np.ceil(recognizer.frames * source.fps / recognizer.fps))  # the window at the model's fps
    positions = generated_positions(source, [action] * len(seeds), native, seeds, truncation, device,
                                    recognizer.skeleton, recognizer.fps, plant_feet=True)[:, :recognizer.frames]
    features, logits = recognizer.embed(positions)
    return features, [recognizer.actions[k] for k in logits.argmax(1)]


def read_as(source: GeneratorSource, recognizer, action: str, seeds: list[int], truncation: float = 1.0,
            device="cpu") -> list[str]:
    """What ``recognizer`` reads each of ``action``'s samples (one per seed) as (see `recognised`)."""
    return recognised(source, recognizer, action, seeds, truncation, device)[1]


def onto_target(positions: np.ndarray, skeleton, fps: float, target_skeleton, target_fps: float) -> np.ndarray:
    """``[N, T, J, 3]`` clips on ``skeleton`` at ``fps``, retargeted and resampled onto
    ``target_skeleton`` at ``target_fps`` (the recogniser's), covering the same span."""
    from motiongen.core.motion import Motion
    from motiongen.core.ops import resample
    from motiongen.retarget import retarget

    same_layout = target_skeleton.same_layout(skeleton)
    if same_layout and math.isclose(fps, target_fps):
        return positions
    motions = []
    for clip in positions:  # the rare path: another skeleton or frame rate, one clip at a time
        motion = Motion(positions=clip, skeleton=skeleton, fps=fps)
        if not math.isclose(fps, target_fps):
            motion = resample(motion, target_fps)
        if not same_layout:
            motion = retarget(motion, target_skeleton)
        motions.append(motion.positions)
    motions = np.stack(motions).astype(np.float32)
    # N frames at f fps last N / f seconds, but resampling keeps the span from the first frame to
    # the last: 32 frames at 15 fps become 63 at 30 fps, not 64. The last frame is held for the
    # missing fraction of a source frame, so a fixed-length model still fills the window it covers.
    covered = int(math.floor(positions.shape[1] * target_fps / fps + 1e-9))
    if motions.shape[1] < covered:
        motions = np.concatenate([motions, np.repeat(motions[:, -1:], covered - motions.shape[1], axis=1)], axis=1)
    return motions


@dataclass
class EvaluationSetting:
    """Everything fixed across rounds: recogniser, real reference, which actions, how long."""

    recognizer: object  # FrozenRecognizer
    reference: object  # RealReference
    test_actions: list[str]  # action of every test window
    pool: np.ndarray  # test windows whose action the generator knows (labels are drawn from them)
    skipped: list[str]  # test actions the generator does not know
    holdout: list[str]
    length: int  # frames of a generated clip at the recogniser's fps
    native: int  # frames to generate at the generator's fps
    truncation: float


def prepare_setting(source: GeneratorSource, recognizer, data, subjects=None, frames: int | None = None,
                    truncation: float = 1.0, name: str = "the generator") -> EvaluationSetting:
    """Check the request against generator and recogniser, and read the real clips."""
    window = recognizer.frames
    default = max(window, int(round(source.frames * recognizer.fps / source.fps)))
    length = int(frames) if frames is not None else default
    if length < window:
        raise ConfigError(f"clips of {length} frames are shorter than the recogniser's {window}-frame window; "
                          f"ask for --frames {window} or more")
    native = int(math.ceil(length * source.fps / recognizer.fps))  # frames to generate at the model's fps
    reason = source.generator.frames_supported(native)
    if reason:
        raise ConfigError(f"{name}: cannot generate {native} frames ({reason})")
    reference, holdout, test_actions = real_reference(recognizer, data, subjects)
    usable = [k for k, action in enumerate(test_actions) if action in source.actions]
    if not usable:
        raise ConfigError(f"{name}: knows none of the test clips' actions ({', '.join(sorted(set(test_actions)))})")
    return EvaluationSetting(recognizer, reference, test_actions, np.array(usable),
                   sorted(set(test_actions) - set(source.actions)), holdout, length, native, float(truncation))


def score_round(source: GeneratorSource, setting: EvaluationSetting, samples: int, seed: int, round_index: int,
                device, as_bvh: bool = False, plant_feet: bool = False) -> tuple[dict[str, float], dict[str, list[float]], np.ndarray]:
    """One round: ``samples`` fresh clips scored against the real test windows. Returns the
    scores, per window position along the clips its FID and mean body height (``"fid"``,
    ``"height_m"``), and the clips ``[N, T, J, 3]``."""
    from motiongen.metrics import evaluation as ev

    rec, reference = setting.recognizer, setting.reference
    rng = np.random.default_rng([int(seed), int(round_index)])
    picks = rng.choice(setting.pool, size=int(samples), replace=True)
    actions = [setting.test_actions[k] for k in picks]
    seeds = [int(seed) + int(round_index) * int(samples) + k for k in range(int(samples))]
    clips = generated_positions(source, actions, setting.native, seeds, setting.truncation, device, rec.skeleton,
                                rec.fps, as_bvh=as_bvh, plant_feet=plant_feet)[:, :setting.length]
    windows = ev.sliding_windows(clips, rec.frames)  # [N, P, T, J, 3]
    count, positions = windows.shape[:2]
    flat = windows.reshape(count * positions, *windows.shape[2:])
    features, logits = rec.embed(flat)
    labels = np.repeat(rec.labels_for(actions), positions)
    scores = ev.score_set(features, logits, labels, flat, reference, rng)
    by_position = features.reshape(count, positions, -1)
    along = {"fid": [float(fid(by_position[:, p], reference.test_features)) for p in range(positions)],
             "height_m": body_height(windows).mean(axis=(0, 2)).tolist()}
    return scores, along, clips


def body_height(positions: np.ndarray) -> np.ndarray:
    """``[...]`` the body's vertical extent in each frame of ``[..., J, 3]`` (highest joint minus
    lowest, metres): a posture folding or sinking over a long clip shows here when per-window FID
    (which judges each window's motion on its own) does not."""
    heights = np.asarray(positions)[..., 1]
    return heights.max(axis=-1) - heights.min(axis=-1)


def evaluate(model: str | Path, data: str | Path, recognizer: str | Path | None = None, samples: int = 500, repeats: int = 20,
             frames: int | None = None, subjects: list[str] | None = None, truncation: float | None = None,
             seed: int = 0, device: str = "auto", plot: str | Path | None = None, as_bvh: bool = False,
             plant_feet: bool | None = None,
             on_start: Callable[[int], None] | None = None, on_step: Callable[[], None] | None = None) -> dict:
    """The report (a JSON-ready dict with ``markdown``); ``plot`` writes per-window FID along time
    (PNG); ``as_bvh`` scores the clips as `sample` writes them to BVH (see `generated_positions`),
    feet planted as `sample` plants them unless ``plant_feet`` is False (default: planted exactly
    when ``as_bvh``)."""
    from motiongen.api.sample import resolve_device
    from motiongen.metrics import evaluation as ev
    from motiongen.training.checkpoint import load_checkpoint

    for option, value, minimum in (("--samples", samples, 2), ("--repeats", repeats, 1)):
        if isinstance(value, bool) or int(value) != value or value < minimum:
            raise ConfigError(f"{option} must be a whole number ≥ {minimum}, got {value!r}")
    if plot is not None and Path(plot).suffix.lower() != ".png":
        raise ConfigError(f"--plot {plot}: the plot is a .png")
    torch_device = resolve_device(device)
    checkpoint = load_checkpoint(model, device=torch_device)
    if not hasattr(checkpoint.pair.generator, "make_latent"):
        raise ConfigError(f"{checkpoint.path}: a {checkpoint.kind} checkpoint does not generate motion; "
                          "evaluate a kinetic-gan, csgn or larnet checkpoint")
    rec = ev.load_recognizer(recognizer, torch_device)
    plant_feet = bool(as_bvh) if plant_feet is None else bool(plant_feet)
    if truncation is None:
        truncation = float(checkpoint.config.get("truncation", 1.0))
    source = GeneratorSource.from_checkpoint(checkpoint)
    setting = prepare_setting(source, rec, data, subjects, frames, truncation, name=str(checkpoint.path))
    reference = setting.reference
    if on_start is not None:
        on_start(int(repeats))

    generated_rounds, real_rounds, per_window, height_along = [], [], [], []
    real_plausibility = ev.plausibility_of(reference.test_windows, rec.skeleton, rec.fps)
    test_accuracy = float((reference.test_logits.argmax(1) == reference.test_labels).mean())
    for round_index in range(int(repeats)):  # rounds are independent sets: the interval is over them
        scores, along, clips = score_round(source, setting, samples, seed, round_index, torch_device, as_bvh,
                                           plant_feet)
        scores.update(ev.plausibility_of(clips, rec.skeleton, rec.fps))
        generated_rounds.append(scores)
        per_window.append(along["fid"])
        height_along.append(along["height_m"])
        rng = np.random.default_rng([int(seed), round_index, 1])
        real = ev.score_real(reference, len(clips) * len(along["fid"]), rng)
        real["accuracy"] = test_accuracy
        real.update(real_plausibility)
        real_rounds.append(real)
        if on_step is not None:
            on_step()

    generated, real = ev.summarise(generated_rounds), ev.summarise(real_rounds)
    fid_by_position, height_by_position = np.array(per_window), np.array(height_along)  # [rounds, P]
    window = rec.frames
    windows_summary = []
    for p in range(fid_by_position.shape[1]):
        mean, half = (float(v) for v in mean_interval(fid_by_position[:, p]))
        windows_summary.append({"window": p, "start_frame": p * window, "start_s": p * window / rec.fps,
                                "fid": mean, "interval": half, "height_m": float(height_by_position[:, p].mean())})
    report = {
        "generator": str(checkpoint.path), "generator_kind": checkpoint.kind, "generator_step": checkpoint.step,
        "recognizer": str(rec.checkpoint.path), "recognizer_sha256": rec.sha256,
        "data": str(data), "test_subjects": setting.holdout, "test_windows": int(len(reference.test_windows)),
        "floor_train_windows": int(len(reference.train_windows)), "samples": int(samples), "repeats": int(repeats),
        "frames": setting.length, "fps": rec.fps, "window": window, "truncation": truncation, "seed": int(seed),
        "actions_skipped": setting.skipped, "as_bvh": bool(as_bvh), "feet_planted": plant_feet,
        "metrics": {key: {"generated": generated[key], "real": real[key]} for key in METRICS},
        "per_window_fid": windows_summary,
        "real_height_m": float(body_height(reference.test_windows).mean()),
    }
    if len(windows_summary) > 1:
        report["last_to_first_fid"] = windows_summary[-1]["fid"] / max(windows_summary[0]["fid"], 1e-12)
        report["last_to_first_height"] = windows_summary[-1]["height_m"] / max(windows_summary[0]["height_m"], 1e-12)
    report["markdown"] = to_markdown(report)
    if plot is not None:
        report["plot"] = str(plot_per_window(report, plot))
    return report


LONG_WINDOWS = 16  # training windows per long sample in the periodic posture check (1024 frames at T = 64)


def periodic_evaluator(recognizer: str | Path, data: str | Path, dataset, subjects=None, samples: int = 256,
                       device="cpu") -> Callable:
    """For the training loop: ``evaluate(generator) -> {"eval_fid", "eval_accuracy",
    "eval_diversity", "eval_multimodality"}`` on ``samples`` clips of the EMA generator against
    the recogniser's held-out test windows (real clips prepared once, here), plus, for a generator
    that makes any length, ``"eval_height_ratio"``: the body height in the last window of
    `LONG_WINDOWS`-window samples (two per action, as written to BVH) over that in the first,
    which shows a posture drifting over long samples that short clips cannot. The same seeds
    every time, so the curve shows the generator changing, not the draw."""
    from motiongen.api.sample import resolve_device
    from motiongen.metrics import evaluation as ev

    torch_device = resolve_device(device)
    rec = ev.load_recognizer(recognizer, torch_device)
    holder = {}

    def evaluate_now(generator) -> dict[str, float]:
        source = GeneratorSource(generator, dataset.normalization, dataset.skeleton, float(dataset.fps),
                                 list(dataset.actions), int(dataset.frames))
        if "setting" not in holder:
            holder["setting"] = prepare_setting(source, rec, data, subjects, name="the model being trained")
        scores, _, _ = score_round(source, holder["setting"], samples, seed=0, round_index=0, device=torch_device)
        figures = {f"eval_{key}": float(scores[key]) for key in ("fid", "accuracy", "diversity", "multimodality")}
        long_frames = LONG_WINDOWS * source.frames
        if generator.frames_supported(long_frames) is None:
            actions = [action for action in source.actions for _ in range(2)]
            clips = generated_positions(source, actions, long_frames, list(range(len(actions))), 1.0, torch_device,
                                        source.skeleton, source.fps, as_bvh=True)  # fixed bones: posture alone
            heights = body_height(clips)  # [N, T]
            first, last = heights[:, :source.frames].mean(), heights[:, -source.frames:].mean()
            figures["eval_height_ratio"] = float(last / max(first, 1e-9))
        return figures

    return evaluate_now


# --- output --------------------------------------------------------------------------------------

def format_figure(value: dict) -> str:
    """``mean ± interval`` with digits to suit the size."""
    mean, half = value["mean"], value["interval"]
    if not np.isfinite(mean):
        return "n/a"
    digits = 4 if abs(mean) < 1 else 2
    return f"{mean:.{digits}f} ± {half:.{digits}f}"


def to_markdown(report: dict) -> str:
    lines = [f"{report['generator_kind']} `{Path(report['generator']).name}` (step {report['generator_step']}), "
             f"{report['repeats']} rounds × {report['samples']} samples of {report['frames']} frames; "
             f"real test: subjects {', '.join(report['test_subjects'])} ({report['test_windows']} windows); "
             f"recogniser sha256 {report['recognizer_sha256'][:12]}…"
             + ("; generated clips as written to BVH (IK)" if report.get("as_bvh") else "")
             + ("; feet planted" if report.get("feet_planted") else ""),
             "", "| metric | generated | real |", "| --- | ---: | ---: |"]
    for key in METRICS:
        value = report["metrics"][key]
        lines.append(f"| {LABELS[key]} | {format_figure(value['generated'])} | {format_figure(value['real'])} |")
    if len(report["per_window_fid"]) > 1:
        lines += ["", "| window start (s) | FID | body height (m) |", "| ---: | ---: | ---: |"]
        lines += [f"| {row['start_s']:.1f} | {row['fid']:.2f} ± {row['interval']:.2f} | {row['height_m']:.2f} |"
                  for row in report["per_window_fid"]]
        lines.append(f"\nlast / first window FID: {report['last_to_first_fid']:.2f}; body height: "
                     f"{report['last_to_first_height']:.2f} (real clips {report['real_height_m']:.2f} m)")
    if report["actions_skipped"]:
        lines.append(f"\ntest actions the generator does not know (left out): {', '.join(report['actions_skipped'])}")
    return "\n".join(lines)


def plot_per_window(report: dict, path: str | Path) -> Path:
    """FID of each window position along the clip (mean and 95% band), with the real floor."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from motiongen.formats._io import atomic_write

    rows = report["per_window_fid"]
    start = np.array([row["start_s"] for row in rows]) + report["window"] / report["fps"] / 2
    fid = np.array([row["fid"] for row in rows])
    band = np.array([row["interval"] for row in rows])
    floor = report["metrics"]["fid"]["real"]["mean"]
    figure = Figure(figsize=(7, 3.6), dpi=110)
    axes = figure.add_subplot()
    axes.plot(start, fid, marker="o", color="#c0392b", label="generated (per window)")
    axes.fill_between(start, fid - band, fid + band, color="#c0392b", alpha=0.2, linewidth=0)
    axes.axhline(floor, color="#2c3e50", linestyle="--", label="real floor (train vs test)")
    axes.set_xlabel("time in the clip (s, window centre)")
    axes.set_ylabel("FID vs real test windows")
    axes.set_ylim(bottom=0)
    axes.set_title(f"{report['generator_kind']}: FID along {report['frames']}-frame clips", fontsize=10)
    axes.legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    with atomic_write(path, binary=True) as stream:
        stream.write(buffer.getvalue())
    return Path(path)
