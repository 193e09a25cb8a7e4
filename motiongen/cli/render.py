"""``motiongen render FILE... -o out.gif|mp4|png`` and ``motiongen render RUN -o curves.png``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from motiongen.cli.console import DeferredProgress, stderr, stdout
from motiongen.cli.errors import handle_errors
from motiongen.cli.options import QuietOption
from motiongen.errors import ConfigError


def parse_size(text: str) -> tuple[int, int]:
    """'320x240' → (320, 240); '320' → (320, 320)."""
    width, sep, height = text.lower().partition("x")
    try:
        return (int(width), int(height) if sep else int(width))
    except ValueError:
        raise ConfigError(f"--size takes WIDTHxHEIGHT in pixels (e.g. 320x320), got {text!r}") from None


@handle_errors
def render(
    inputs: Annotated[list[Path], typer.Argument(help="Motion files (any supported format, or `sample` output); each sequence is a panel. Or one training run (its folder or log.jsonl): its losses as curves in a PNG.", show_default=False)],
    output: Annotated[str, typer.Option("--output", "-o", help="out.gif or out.mp4 (animation), out.png (contact sheet, or one still with --frame).")],
    grid: Annotated[Optional[int], typer.Option("--grid", help="Panels per row when several motions are drawn side by side (default: up to 4).")] = None,
    start: Annotated[Optional[int], typer.Option("--start", help="First frame of every motion.")] = None,
    end: Annotated[Optional[int], typer.Option("--end", help="Stop before this frame.")] = None,
    fps: Annotated[Optional[float], typer.Option("--fps", help="Frames per second of the animation (default: the motion's, at most 30).")] = None,
    size: Annotated[str, typer.Option("--size", help="Pixels of one panel, WIDTHxHEIGHT.")] = "320x320",
    frame: Annotated[Optional[int], typer.Option("--frame", help="PNG: draw this one frame instead of a contact sheet.")] = None,
    sheet: Annotated[int, typer.Option("--sheet", help="PNG: moments per motion on the contact sheet.")] = 8,
    azimuth: Annotated[float, typer.Option("--azimuth", help="Camera angle around the up axis, degrees (0 = in front).")] = 35.0,
    elevation: Annotated[float, typer.Option("--elevation", help="Camera angle above the ground, degrees.")] = 12.0,
    fixed_camera: Annotated[bool, typer.Option("--fixed-camera", help="Keep the camera still instead of following the character.")] = False,
    quiet: QuietOption = False,
) -> None:
    """Draw motion as stick figures (left blue, right red, missing joints orange) on a ground grid
    with the root's trail, or a training run's losses as curves; headless, no display or OpenGL
    needed."""
    from motiongen.api.render import render as render_files
    from motiongen.render.pictures import RenderOptions
    from motiongen.render.stick import View

    if grid is not None and grid < 1:
        raise ConfigError(f"--grid must be at least 1, got {grid}")
    if not -89 <= elevation <= 89:
        raise ConfigError(f"--elevation must be between -89 and 89 degrees, got {elevation:g}")
    options = RenderOptions(fps=fps, start=start, end=end, columns=grid, size_px=parse_size(size), sheet_frames=sheet,
                            frame=frame, view=View(azimuth, elevation, follow=not fixed_camera))
    with DeferredProgress("rendering", quiet, unit="frames") as progress:
        result = render_files(inputs, output, options, on_frame=progress.advance, on_start=progress.start)
    stdout.print(str(result.path), highlight=False)
    if not quiet:
        stderr.print(f"{result.frame_count} frame{'s' * (result.frame_count != 1)}, "
                     f"{result.size[0]}×{result.size[1]} px", highlight=False)
