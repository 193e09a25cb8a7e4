"""`Motion` objects to a stick-figure GIF, MP4 or PNG file.

The output suffix picks the mode: ``.gif``/``.mp4`` animate every panel in step by time;
``.png`` is a contact sheet (a row of evenly spaced moments per motion) or, with ``frame``, one
still. Used by ``motiongen render`` (through `motiongen.api.render`), ``sample --render`` and the
training loop's sample pictures.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from motiongen.core.motion import Motion
from motiongen.errors import ConfigError
from motiongen.formats._io import atomic_write, user_file_mode
from motiongen.render.stick import (Panel, Scene, Track, View, animate, require_ffmpeg, timeline, write_gif,
                                    write_mp4, write_png)

SUFFIXES = (".gif", ".mp4", ".png")
DEFAULT_FPS = 30.0
MAX_PANELS = 64


@dataclass
class RenderResult:
    path: Path
    frame_count: int  # images in the file (1 for a PNG)
    size: tuple[int, int]  # (width, height) pixels


@dataclass(frozen=True)
class RenderOptions:
    fps: float | None = None  # output frame rate (default: the motions' own, at most 30)
    start: int | None = None  # first source frame of every motion
    end: int | None = None  # one past the last source frame
    columns: int | None = None  # panels per row
    size_px: tuple[int, int] = (320, 320)  # one panel
    sheet_frames: int = 8  # moments per motion in a PNG contact sheet
    frame: int | None = None  # a PNG of this one frame instead of a sheet
    view: View = View()


def check_output(output: str | Path, suffixes: tuple[str, ...] = SUFFIXES) -> Path:
    """The output path, or a ConfigError before any work when its suffix or folder is wrong."""
    path = Path(output)
    if str(output) == "-":
        raise ConfigError(f"render writes a file: give -o NAME{', '.join(suffixes)}")
    if path.suffix.lower() not in suffixes:
        raise ConfigError(f"-o {output}: the picture must end in {', '.join(suffixes)}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"-o {output}: folder {folder} does not exist")
    if path.suffix.lower() == ".mp4":
        require_ffmpeg()
    return path


def render_motions(motions: list[Motion], titles: list[str], output: str | Path, options: RenderOptions = RenderOptions(),
                   on_frame: Callable[[], None] | None = None, on_start: Callable[[int], None] | None = None) -> RenderResult:
    """Render ``motions`` (one panel each) to ``output``; ``on_start(total)`` then ``on_frame()``
    per image let a caller show progress."""
    output = check_output(output)
    if not motions:
        raise ConfigError("nothing to render")
    if len(motions) > MAX_PANELS:
        raise ConfigError(f"{len(motions)} motions is too many panels for one picture (at most {MAX_PANELS})")
    motions = [_frame_range(m, t, options) for m, t in zip(motions, titles)]
    tracks = [_track(m, t, options.view) for m, t in zip(motions, titles)]
    suffix = output.suffix.lower()
    if suffix == ".png":
        return _render_png(tracks, titles, output, options, on_frame, on_start)
    fps = options.fps if options.fps is not None else min(DEFAULT_FPS, max(m.fps for m in motions))
    if not 0 < fps <= 120:
        raise ConfigError(f"--fps must be between 0 and 120 for a picture, got {fps:g}")
    frames = timeline(tracks, fps)
    scene = Scene([Panel(t, title) for t, title in zip(tracks, titles)], options.columns, options.size_px)
    if on_start is not None:
        on_start(len(frames))
    images = animate(scene, frames, on_frame)
    try:
        if suffix == ".gif":
            with atomic_write(output, binary=True) as stream:
                count = write_gif(images, stream, fps)
        else:
            count = _write_mp4_atomically(images, output, scene.size, fps)
    finally:
        scene.close()
    return RenderResult(output, count, scene.size)


def _render_png(tracks: list[Track], titles: list[str], output: Path, options: RenderOptions,
                on_frame, on_start) -> RenderResult:
    if options.frame is not None:
        for track, title in zip(tracks, titles):
            if not 0 <= options.frame < track.frame_count:
                raise ConfigError(f"{title} has {track.frame_count} frames; --frame {options.frame} is out of range")
        panels = [Panel(t, title) for t, title in zip(tracks, titles)]
        frames = [options.frame] * len(tracks)
        columns = options.columns
    else:
        if not 1 <= options.sheet_frames <= 64:
            raise ConfigError(f"--sheet must be between 1 and 64 moments, got {options.sheet_frames}")
        count = options.sheet_frames
        panels, frames = [], []
        for track, title in zip(tracks, titles):
            moments = np.linspace(0, track.frame_count - 1, count).round().astype(int)
            panels.extend(Panel(track, title if k == 0 else "") for k in range(count))
            frames.extend(moments.tolist())
        columns = count
    if on_start is not None:
        on_start(1)
    scene = Scene(panels, columns, options.size_px)
    try:
        image = scene.draw(frames)
        with atomic_write(output, binary=True) as stream:
            write_png(image, stream)
    finally:
        scene.close()
    if on_frame is not None:
        on_frame()
    return RenderResult(output, 1, scene.size)


def _frame_range(motion: Motion, title: str, options: RenderOptions) -> Motion:
    if options.start is None and options.end is None:
        return motion
    start = options.start or 0
    end = motion.frame_count if options.end is None else options.end
    if not 0 <= start < end:
        raise ConfigError(f"--start {start} --end {end}: the range is empty")
    if start >= motion.frame_count:
        raise ConfigError(f"{title} has {motion.frame_count} frames; --start {start} is past its end")
    return motion[start:min(end, motion.frame_count)]


def _track(motion: Motion, title: str, view: View) -> Track:
    try:
        return Track(motion, view)
    except ConfigError as error:
        raise ConfigError(f"{title}: {error}") from None


def _write_mp4_atomically(images, output: Path, size, fps: float) -> int:
    ffmpeg = require_ffmpeg()
    handle, temp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part.mp4", dir=output.parent or ".")
    os.close(handle)
    try:
        count = write_mp4(images, temp, size, fps, ffmpeg)
        os.chmod(temp, user_file_mode())
        os.replace(temp, output)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    return count

