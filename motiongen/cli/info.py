"""``motiongen info FILE``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from motiongen.api.info import describe
from motiongen.cli.console import stdout
from motiongen.cli.errors import handle_errors
from motiongen.cli.options import JsonOption, LabelsOption, LayoutOption, UnitsOption


@handle_errors
def info(
    file: Annotated[Path, typer.Argument(help="A motion file.", show_default=False)],
    layout: LayoutOption = None,
    labels: LabelsOption = None,
    metres_per_unit: UnitsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print skeleton, frames, fps, duration and missing-joint counts of a motion file."""
    options = {k: v for k, v in dict(layout=layout, labels=labels, metres_per_unit=metres_per_unit).items() if v}
    infos = describe(file, **options)
    if as_json:
        payload = [i.as_dict() for i in infos]
        print(json.dumps(payload if len(payload) > 1 else payload[0], indent=2))
        return
    for item in infos[:20]:
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column()
        title = item.file if len(infos) == 1 else f"{item.file} [{item.sequence}]"
        table.add_row("file", title)
        table.add_row("format", item.format)
        table.add_row("skeleton", f"{item.skeleton} ({item.joints} joints)")
        table.add_row("frames", str(item.frames))
        table.add_row("fps", f"{item.fps:g}")
        table.add_row("duration", f"{item.duration_s:.3f} s")
        table.add_row("rotations", "yes" if item.has_rotations else "no (positions only)")
        if item.action:
            table.add_row("action", item.action)
        missing = ", ".join(f"{name} {count}" for name, count in item.missing_by_joint.items())
        table.add_row("missing", f"{item.missing_values} joint-frames" + (f" ({missing})" if missing else ""))
        stdout.print(table)
    if len(infos) > 20:
        stdout.print(f"… and {len(infos) - 20} more sequences (use --json for all)")
