"""Headless stick-figure pictures of motion: matplotlib's Agg canvas, no display, no OpenGL.

A `Scene` lays out panels (one motion each, or one motion at several moments for a contact
sheet) and draws them frame by frame into RGB arrays; `write_gif`, `write_mp4` and `write_png`
turn those into files. All geometry is projected once per motion, vectorised over frames and
joints; per output frame only the artists' data and the axes limits change, so the camera can
follow the character without re-projecting anything (projection is linear: moving the camera is
moving the limits).

Camera: orthographic, looking at the character from ``azimuth_deg`` around the up axis (0 = in
front of a character facing +Z, positive = towards its left) and ``elevation_deg`` above the
ground. Left limbs are blue, right red (`style`), joints missing from the data (NaN) are not
drawn and counted in the panel, joints present but masked as missing (e.g. filled by `impute`)
are drawn in orange so results can be compared with their inputs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from motiongen.core.motion import Motion
from motiongen.errors import ConfigError
from motiongen.render.style import MISSING_RGB, SIDE_RGB, joint_sides

BACKGROUND_RGB = (1.0, 1.0, 1.0)
GRID_SPACING_M = 0.5
TRAIL_RGB = (0.55, 0.55, 0.60)
DPI = 100


@dataclass(frozen=True)
class View:
    azimuth_deg: float = 35.0
    elevation_deg: float = 12.0
    follow: bool = True  # the camera keeps the character in the middle of the panel

    def axes(self) -> np.ndarray:
        """``[3, 3]`` rows: screen right, screen up, towards the camera (world, Y up)."""
        a, e = np.radians(self.azimuth_deg), np.radians(self.elevation_deg)
        right = np.array([np.cos(a), 0.0, -np.sin(a)])
        towards = np.array([np.cos(e) * np.sin(a), np.sin(e), np.cos(e) * np.cos(a)])
        up = np.cross(towards, right)
        return np.stack([right, up, towards])


class Track:
    """One motion projected for drawing: screen coordinates of every joint in every frame, the
    camera's centre per frame, and the static ground grid and root trail."""

    def __init__(self, motion: Motion, view: View):
        self.motion = motion
        positions = motion.positions.astype(np.float64)  # [T, J, 3]
        finite = np.isfinite(positions).all(-1)
        if not finite.any():
            raise ConfigError("nothing to draw: every joint of every frame is missing")
        axes = view.axes()
        screen = positions @ axes.T  # [T, J, 3]: x right, y up, depth towards the camera
        self.xy = screen[..., :2]
        self.depth = np.where(finite, screen[..., 2], -np.inf)
        self.missing_nan = ~finite  # cannot be drawn
        self.masked = finite & ~motion.mask if motion.mask is not None else np.zeros_like(finite)  # drawn, flagged
        self.parents = motion.skeleton.parents
        sides = joint_sides(motion.skeleton)
        self.joint_rgb = SIDE_RGB[sides]

        heights = positions[..., 1]
        lowest = np.nanmin(np.where(finite, heights, np.nan), axis=1)  # [T], NaN for empty frames
        self.floor = float(np.nanpercentile(lowest, 5))
        tallest = np.nanmax(np.where(finite, heights, np.nan), axis=1) - self.floor
        self.height = float(max(np.nanpercentile(tallest, 95), 0.5 * motion.skeleton.height_m(), 0.2))

        root = _fill_rows(positions[:, 0])  # [T, 3] the root, gaps bridged, for the camera and trail
        ground = root.copy()
        ground[:, 1] = self.floor
        self.trail_xy = (ground @ axes.T)[:, :2]
        centre = ground.copy()
        centre[:, 1] = self.floor + 0.5 * self.height
        if view.follow:
            centre[:, [0, 2]] = _moving_average(centre[:, [0, 2]], max(1, round(motion.fps * 0.5)))
        else:
            centre[:, [0, 2]] = np.nanmean(centre[:, [0, 2]], axis=0)
        self.centre_xy = (centre @ axes.T)[:, :2]  # [T, 2]
        self.grid = self._ground_grid(ground, axes)

    def _ground_grid(self, ground: np.ndarray, axes: np.ndarray) -> np.ndarray:
        """``[L, 2, 2]`` screen segments of grid lines on the floor covering the path ± a body."""
        reach = 3.0 * self.height
        low = np.floor((ground[:, [0, 2]].min(0) - reach) / GRID_SPACING_M) * GRID_SPACING_M
        high = np.ceil((ground[:, [0, 2]].max(0) + reach) / GRID_SPACING_M) * GRID_SPACING_M
        xs = np.arange(low[0], high[0] + 1e-9, GRID_SPACING_M)
        zs = np.arange(low[1], high[1] + 1e-9, GRID_SPACING_M)
        along_z = np.stack([np.stack([xs, np.full_like(xs, low[1])], -1),
                            np.stack([xs, np.full_like(xs, high[1])], -1)], 1)  # [X, 2, (x, z)]
        along_x = np.stack([np.stack([np.full_like(zs, low[0]), zs], -1),
                            np.stack([np.full_like(zs, high[0]), zs], -1)], 1)
        flat = np.concatenate([along_z, along_x])  # [L, 2, 2]
        world = np.stack([flat[..., 0], np.full(flat.shape[:2], self.floor), flat[..., 1]], -1)
        return (world @ axes.T)[..., :2]

    @property
    def frame_count(self) -> int:
        return self.motion.frame_count

    def bones(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """Screen segments ``[B, 2, 2]`` of the frame's bones, far ones first, and their RGB."""
        child = np.arange(1, len(self.parents))
        parent = self.parents[child]
        xy = self.xy[frame]
        segments = np.stack([xy[parent], xy[child]], 1)
        rgb = self.joint_rgb[child].copy()
        flagged = self.masked[frame]
        rgb[flagged[child] | flagged[parent]] = MISSING_RGB
        order = np.argsort(np.minimum(self.depth[frame, child], self.depth[frame, parent]), kind="stable")
        return segments[order], rgb[order]


def _fill_rows(values: np.ndarray) -> np.ndarray:
    """Rows with NaN take the nearest earlier finite row (later one at the start)."""
    good = np.isfinite(values).all(-1)
    if good.all():
        return values.copy()
    index = np.where(good, np.arange(len(values)), -1)
    index = np.maximum.accumulate(index)
    first = int(np.argmax(good))
    index[index < 0] = first
    return values[index]


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average along axis 0 (edges use the frames that exist)."""
    if window <= 1 or len(values) < 2:
        return values
    half = window // 2
    padded = np.concatenate([np.zeros((1,) + values.shape[1:]), np.cumsum(values, 0)])
    t = np.arange(len(values))
    lo, hi = np.clip(t - half, 0, len(values)), np.clip(t + half + 1, 0, len(values))
    return (padded[hi] - padded[lo]) / (hi - lo)[:, None]


@dataclass
class Panel:
    track: Track
    title: str = ""


class Scene:
    """Panels on one matplotlib figure, drawn frame by frame into ``uint8 [H, W, 3]`` images."""

    def __init__(self, panels: list[Panel], columns: int | None = None, size_px: tuple[int, int] = (320, 320)):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.collections import LineCollection
        from matplotlib.figure import Figure

        if not panels:
            raise ConfigError("nothing to draw")
        width, height = size_px
        if not (32 <= width <= 4096 and 32 <= height <= 4096):
            raise ConfigError(f"--size must be between 32 and 4096 pixels a side, got {width}x{height}")
        self.panels = panels
        self.columns = columns or min(len(panels), 4)
        self.rows = -(-len(panels) // self.columns)
        # even pixel sizes: H.264 needs them, and nothing else minds
        self.size = (self.columns * width + (self.columns * width) % 2, self.rows * height + (self.rows * height) % 2)
        self.figure = Figure(figsize=(self.size[0] / DPI, self.size[1] / DPI), dpi=DPI, facecolor=BACKGROUND_RGB)
        self.canvas = FigureCanvasAgg(self.figure)
        self._artists = []
        for k, panel in enumerate(panels):
            row, col = divmod(k, self.columns)
            box = [col * width / self.size[0], 1 - (row + 1) * height / self.size[1], width / self.size[0], height / self.size[1]]
            ax = self.figure.add_axes(box)
            ax.set_axis_off()
            ax.set_facecolor(BACKGROUND_RGB)
            track = panel.track
            ax.add_collection(LineCollection(track.grid, colors=[(0.86, 0.86, 0.88)], linewidths=0.6, zorder=0))
            trail, = ax.plot([], [], color=TRAIL_RGB, linewidth=1.0, zorder=1)
            bones = LineCollection([], linewidths=2.4 * min(width, height) / 320, capstyle="round", zorder=2)
            ax.add_collection(bones)
            joints = ax.scatter([], [], s=9 * (min(width, height) / 320) ** 2, zorder=3, linewidths=0)
            font = max(5.0, 8.0 * min(width, height) / 320)
            ax.text(0.03, 0.97, panel.title, transform=ax.transAxes, va="top", ha="left", fontsize=font, color="0.15")
            clock = ax.text(0.03, 0.03, "", transform=ax.transAxes, va="bottom", ha="left", fontsize=0.9 * font, color="0.35")
            lost = ax.text(0.97, 0.03, "", transform=ax.transAxes, va="bottom", ha="right", fontsize=0.9 * font, color=MISSING_RGB)
            half_h = 0.62 * track.height
            self._artists.append((ax, trail, bones, joints, clock, lost, (half_h * width / height, half_h)))

    def draw(self, frames: Iterable[int]) -> np.ndarray:
        """Draw panel k at frame ``frames[k]`` and return the RGB image."""
        for (ax, trail, bones, joints, clock, lost, (half_w, half_h)), panel, frame in zip(self._artists, self.panels, frames):
            track = panel.track
            frame = int(np.clip(frame, 0, track.frame_count - 1))
            centre = track.centre_xy[frame]
            ax.set_xlim(centre[0] - half_w, centre[0] + half_w)
            ax.set_ylim(centre[1] - half_h, centre[1] + half_h)
            start = max(0, frame - int(4 * track.motion.fps))
            trail.set_data(track.trail_xy[start:frame + 1, 0], track.trail_xy[start:frame + 1, 1])
            segments, rgb = track.bones(frame)
            bones.set_segments(segments)
            bones.set_color(rgb)
            visible = ~track.missing_nan[frame]
            colours = track.joint_rgb.copy()
            colours[track.masked[frame]] = MISSING_RGB
            joints.set_offsets(track.xy[frame][visible])
            joints.set_facecolor(colours[visible])
            clock.set_text(f"{frame + 1}/{track.frame_count}  {frame / track.motion.fps:.2f} s")
            missing = int(track.missing_nan[frame].sum())
            lost.set_text(f"{missing} joint{'s' * (missing != 1)} missing" if missing else "")
        self.canvas.draw()
        return np.asarray(self.canvas.buffer_rgba())[..., :3].copy()

    def joint_pixels(self, panel: int, frame: int) -> np.ndarray:
        """``[J, 2]`` (row, column) in the last drawn image where panel ``panel``'s joints of ``frame``
        project (NaN for missing joints): for tests and overlays."""
        ax = self._artists[panel][0]
        xy = self.panels[panel].track.xy[frame]
        display = ax.transData.transform(np.nan_to_num(xy))
        pixels = np.stack([self.size[1] - display[:, 1], display[:, 0]], -1)
        pixels[self.panels[panel].track.missing_nan[frame]] = np.nan
        return pixels

    def close(self) -> None:
        self.figure.clear()


def timeline(tracks: list[Track], fps: float, start_s: float = 0.0, end_s: float | None = None) -> np.ndarray:
    """``[F, P]`` frame index of each track at each output frame, by time: tracks of other frame
    rates stay in step, and a shorter track holds its last frame."""
    durations = [t.frame_count / t.motion.fps for t in tracks]
    end_s = max(durations) if end_s is None else end_s
    count = max(1, int(round((end_s - start_s) * fps)))
    times = start_s + np.arange(count) / fps
    rates = np.array([t.motion.fps for t in tracks])
    lasts = np.array([t.frame_count - 1 for t in tracks])
    return np.minimum(np.floor(times[:, None] * rates[None, :] + 1e-6).astype(np.int64), lasts[None, :])


def animate(scene: Scene, frames: np.ndarray, on_frame: Callable[[], None] | None = None) -> Iterator[np.ndarray]:
    """Images of ``frames`` ``[F, P]``, one per output frame."""
    for row in frames:  # one picture per output frame: the loop is the drawing itself
        image = scene.draw(row)
        if on_frame is not None:
            on_frame()
        yield image


def write_gif(images: Iterable[np.ndarray], stream, fps: float) -> int:
    """GIF (looping) to a binary stream; returns the number of frames. Each frame is quantised to
    a palette as it comes, so a long clip does not hold RGB frames in memory."""
    from PIL import Image

    paletted = [Image.fromarray(image).quantize(colors=128, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
                for image in images]
    if not paletted:
        raise ConfigError("no frames to write")
    paletted[0].save(stream, format="GIF", save_all=True, append_images=paletted[1:],
                     duration=max(20, round(1000 / fps)), loop=0, optimize=False)
    return len(paletted)


def write_png(image: np.ndarray, stream) -> None:
    from PIL import Image

    Image.fromarray(image).save(stream, format="PNG", optimize=False)


def find_ffmpeg() -> str | None:
    """An ffmpeg executable: ``$MOTIONGEN_FFMPEG``, one on PATH, or the imageio-ffmpeg wheel's."""
    explicit = os.environ.get("MOTIONGEN_FFMPEG")
    if explicit:
        return explicit if shutil.which(explicit) or os.path.isfile(explicit) else None
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:
        return None


def require_ffmpeg() -> str:
    ffmpeg = find_ffmpeg()
    if ffmpeg is None:
        raise ConfigError("writing MP4 needs an ffmpeg encoder: install ffmpeg or `pip install imageio-ffmpeg`, "
                          "or write a .gif instead")
    return ffmpeg


def write_mp4(images: Iterable[np.ndarray], path: str, size: tuple[int, int], fps: float, ffmpeg: str) -> int:
    """H.264 MP4 at ``path`` by piping raw RGB frames into ffmpeg; returns the number of frames."""
    width, height = size
    command = [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{width}x{height}", "-r", f"{fps:g}", "-i", "-", "-an", "-c:v", "libx264",
               "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4", path]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    count = 0
    try:
        for image in images:
            process.stdin.write(np.ascontiguousarray(image).tobytes())
            count += 1
        process.stdin.close()
    except BrokenPipeError:
        pass
    except BaseException:
        process.kill()
        process.wait()
        raise
    error = process.stderr.read().decode(errors="replace").strip()
    if process.wait() != 0:
        raise ConfigError(f"ffmpeg could not encode the MP4: {error.splitlines()[-1] if error else 'unknown error'}")
    return count
