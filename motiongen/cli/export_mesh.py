"""``motiongen export-mesh FILE -o out.glb|ply|obj``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from motiongen.api.export_mesh import export_mesh as export_mesh_file
from motiongen.cli.console import stdout
from motiongen.cli.errors import handle_errors


@handle_errors
def export_mesh(
    input_path: Annotated[Path, typer.Argument(metavar="FILE", help="Motion file (any format `convert` reads).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Mesh file: .glb, .ply or .obj (from the suffix).", show_default=False)],
    frame: Annotated[Optional[int], typer.Option("--frame", metavar="K", help="Export frame K (0-based; default 0).")] = None,
    every: Annotated[Optional[int], typer.Option("--every", metavar="N", help="Export frames 0, N, 2N, … together in one mesh.")] = None,
    spacing: Annotated[float, typer.Option("--spacing", metavar="M", help="Move each exported frame M metres further along +X than the one before (0: frames stay in place).")] = 0.0,
    radius: Annotated[Optional[float], typer.Option("--radius", metavar="R", help="Bone radius in metres (default: 1.5% of the skeleton's height); joints are spheres 1.4× as wide.")] = None,
) -> None:
    """Export the skeleton as a triangle mesh for any 3D viewer: bones as capsules, joints as
    spheres, coloured by side (left blue, right red, missing joints orange); Y up, metres."""
    path = export_mesh_file(input_path, output, frame=frame, every=every, spacing=spacing, radius=radius)
    stdout.print(str(path), highlight=False)
