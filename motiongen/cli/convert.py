"""``motiongen convert IN... -o OUT``."""

from __future__ import annotations

import os
import traceback
from pathlib import Path
from typing import Annotated, Optional

import typer

from motiongen.api.convert import convert as convert_files
from motiongen.api.convert import expand_inputs
from motiongen.cli.console import progress_bar, stderr, stdout
from motiongen.cli.errors import EXIT_USAGE, handle_errors, report
from motiongen.cli.options import FpsOption, LabelsOption, LayoutOption, QuietOption, SkeletonOption, UnitsOption


@handle_errors
def convert(
    inputs: Annotated[list[Path], typer.Argument(help="Motion files or folders (BVH, NTU .skeleton/arrays, H3.6M, AMASS, .npy/.npz/.json).", show_default=False)],
    output: Annotated[str, typer.Option("--output", "-o", help="Output file, folder (several inputs), or - for stdout.")],
    to: Annotated[Optional[str], typer.Option("--to", help="Output format: bvh, npz, amass, h36m, h36m-expmap, ntu-array (default: from the output suffix).")] = None,
    skeleton: SkeletonOption = None,
    fps: FpsOption = None,
    layout: LayoutOption = None,
    labels: LabelsOption = None,
    metres_per_unit: UnitsOption = None,
    action: Annotated[Optional[str], typer.Option("--action", help="Action label for every converted motion (e.g. an NTU-120 class name; NTU arrays need one).")] = None,
    quiet: QuietOption = False,
) -> None:
    """Convert motion between formats and skeletons: resample by time (slerp for rotations),
    retarget through canonical joint names, solve rotations by IK when the output stores them."""
    files = expand_inputs(inputs)
    read_options: dict = {}
    write_options: dict = {}
    if layout:
        read_options["layout"] = layout
        write_options["layout"] = layout
    if labels:
        read_options["labels"] = labels
    if metres_per_unit:
        read_options["metres_per_unit"] = metres_per_unit
    to_stdout = output == "-"
    with progress_bar(quiet or to_stdout or len(files) < 2) as bar:
        task = bar.add_task("converting", total=len(files))
        result = convert_files(files, output, to=to, skeleton=skeleton, fps=fps, action=action, read_options=read_options,
                               write_options=write_options, on_file=lambda _: bar.advance(task))
    if not to_stdout:
        for path in result.written:
            stdout.print(str(path), highlight=False)
    for (_, reason), error in zip(result.failed, result.errors):
        if os.environ.get("MOTIONGEN_DEBUG"):
            traceback.print_exception(error)  # to stderr, as for errors outside a file (cli/errors.py)
        report(reason)
    if not quiet and len(files) > 1:
        stderr.print(f"converted {len(files) - len(result.failed)} of {len(files)} files", highlight=False)
    if result.failed:
        raise typer.Exit(EXIT_USAGE)
