"""``render``: motion files to a stick-figure GIF, MP4 or PNG (`motiongen.render.pictures`); a
training run's log to a PNG of its curves (`motiongen.render.curves`)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from motiongen.core.motion import Motion
from motiongen.errors import ConfigError
from motiongen.formats import read_motions
from motiongen.render.pictures import RenderOptions, RenderResult, check_output, render_motions

LOG_NAME = "log.jsonl"  # what `motiongen train` writes in its run folder


def load_panels(inputs: Iterable[str | Path]) -> tuple[list[Motion], list[str]]:
    """Every sequence of every input file, titled by file (and index for multi-sequence files)."""
    motions: list[Motion] = []
    titles: list[str] = []
    for item in inputs:
        path = Path(item)
        found = read_motions(path)
        motions.extend(found)
        titles.extend([path.name] if len(found) == 1 else [f"{path.name} [{k}]" for k in range(len(found))])
    return motions, titles


def training_log_path(item: str | Path) -> Path | None:
    """The ``log.jsonl`` an input names (the file itself, or a run folder holding one), else None."""
    path = Path(item)
    if path.is_dir() and (path / LOG_NAME).is_file():
        return path / LOG_NAME
    return path if path.suffix.lower() == ".jsonl" else None


def render(inputs: Iterable[str | Path], output: str | Path, options: RenderOptions = RenderOptions(),
           on_frame: Callable[[], None] | None = None, on_start: Callable[[int], None] | None = None) -> RenderResult:
    """Read motion files and render them to ``output``; a training run (its folder or
    ``log.jsonl``) is drawn as loss curves instead (`motiongen.render.curves`)."""
    inputs = list(inputs)
    logs = [training_log_path(item) for item in inputs]
    if any(logs):
        if len(inputs) != 1:
            raise ConfigError("draw one training log at a time, without motion files beside it")
        return render_training_log(logs[0], output, options)
    output = check_output(output)
    motions, titles = load_panels(inputs)
    return render_motions(motions, titles, output, options, on_frame, on_start)


def render_training_log(log: Path, output: str | Path, options: RenderOptions = RenderOptions()) -> RenderResult:
    """A run's losses (and periodic evaluations) against the step, one panel each, as a PNG."""
    from motiongen.render.curves import draw_training_curves
    from motiongen.training.log import read_log

    if not log.is_file():
        raise ConfigError(f"{log}: no such training log")
    title = f"{log.parent.name}/{log.name}" if log.name == LOG_NAME else log.name
    return draw_training_curves(read_log(log), output, title, options.columns, options.size_px)
