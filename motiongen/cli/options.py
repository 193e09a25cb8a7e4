"""Shared option aliases, so ``--skeleton``, ``--fps``, ``--json`` … are spelt the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

SkeletonOption = Annotated[
    Optional[str],
    typer.Option("--skeleton", "-s", help="Registry skeleton name (see `motiongen skeletons list`) or a skeleton .toml file."),
]
FpsOption = Annotated[Optional[float], typer.Option("--fps", help="Resample to this frame rate (frames per second).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary on stderr.")]
LayoutOption = Annotated[
    Optional[str],
    typer.Option("--layout", help="Layout of NTU array files: stgcn, msg3d or ctrgcn (declared, never guessed)."),
]
LabelsOption = Annotated[Optional[Path], typer.Option("--labels", help="Label pickle for NTU arrays (default: the sibling *_label.pkl).")]
UnitsOption = Annotated[
    Optional[float],
    typer.Option("--metres-per-unit", help="BVH input units in metres per unit (default: from a matching skeleton or the skeleton's height)."),
]
