"""``render``: motion files to a stick-figure GIF, MP4 or PNG (`motiongen.render.pictures`)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from motiongen.core.motion import Motion
from motiongen.formats import read_motions
from motiongen.render.pictures import RenderOptions, RenderResult, check_output, render_motions


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


def render(inputs: Iterable[str | Path], output: str | Path, options: RenderOptions = RenderOptions(),
           on_frame: Callable[[], None] | None = None, on_start: Callable[[int], None] | None = None) -> RenderResult:
    """Read motion files and render them to ``output``."""
    output = check_output(output)
    motions, titles = load_panels(inputs)
    return render_motions(motions, titles, output, options, on_frame, on_start)
