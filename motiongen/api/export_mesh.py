"""``export_mesh``: read a motion file → pick frames → skeleton mesh → ``.glb``/``.ply``/``.obj``.

The mesh itself is `motiongen.render.mesh`; this module does the file reading and the options.
trimesh is imported only when a mesh is built, so ``motiongen --help`` does not pay for it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from motiongen.errors import ConfigError
from motiongen.formats import read_motion
from motiongen.render.mesh import export_mesh as write_mesh
from motiongen.render.mesh import mesh_file_type, skeleton_mesh


def _check_choice(frame: int | None, every: int | None) -> None:
    if frame is not None and every is not None:
        raise ConfigError("give --frame or --every, not both")
    if every is not None and every < 1:
        raise ConfigError(f"--every must be at least 1, got {every}")


def choose_frames(frame_count: int, frame: int | None = None, every: int | None = None,
                  source: str | Path = "motion") -> np.ndarray:
    """``--frame K`` (one frame, default 0) or ``--every N`` (frames 0, N, 2N, …), never both."""
    _check_choice(frame, every)
    if every is not None:
        return np.arange(0, frame_count, every)
    frame = 0 if frame is None else frame
    if not 0 <= frame < frame_count:
        raise ConfigError(f"{source} has {frame_count} frames; --frame {frame} is out of range"
                          + (f" (0 to {frame_count - 1})" if frame_count else ""))
    return np.array([frame])


def export_mesh(input_path: str | Path, output: str | Path, frame: int | None = None, every: int | None = None,
                spacing: float = 0.0, radius: float | None = None) -> Path:
    """Write the skeleton of ``input_path`` as a mesh (bones as capsules, joints as spheres) to
    ``output``, whose suffix (.glb, .ply, .obj) picks the format. ``spacing`` metres along +X
    between consecutive exported frames; ``radius`` is the bone radius in metres (default 1.5 % of
    the skeleton's height). Returns the path written."""
    output = Path(output)
    file_type = mesh_file_type(output)  # before reading, so a wrong suffix fails at once
    _check_choice(frame, every)  # and before reading a long file
    motion = read_motion(input_path)
    frames = choose_frames(motion.frame_count, frame, every, source=input_path)
    mesh = skeleton_mesh(motion, frames, radius_m=radius, spacing_m=spacing)
    if len(mesh.faces) == 0:
        raise ConfigError(f"{input_path}: no joint has a position in the chosen frames")
    write_mesh(mesh, output, file_type)
    return output
