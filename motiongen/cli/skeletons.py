"""``motiongen skeletons list | show NAME``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from motiongen.cli.console import stdout
from motiongen.cli.errors import handle_errors
from motiongen.cli.options import JsonOption
from motiongen.skeletons import list_skeletons, load_skeleton, skeleton_to_toml

app = typer.Typer(help="List and inspect skeleton definitions (add your own with a TOML file on MOTIONGEN_SKELETON_PATH).",
                  no_args_is_help=True)


def _summary(name: str) -> dict:
    skeleton = load_skeleton(name)
    return {
        "name": skeleton.name, "joints": skeleton.joint_count, "fps": skeleton.fps, "units": skeleton.units,
        "up": skeleton.up, "forward": skeleton.forward, "height_m": round(skeleton.height_m(), 4),
        "actions": skeleton.actions, "description": skeleton.description, "path": skeleton.meta.get("path"),
    }


@app.command("list")
@handle_errors
def list_command(as_json: JsonOption = False) -> None:
    """All skeletons on the search path."""
    rows = [_summary(name) for name in list_skeletons()]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title="skeletons")
    for column in ("name", "joints", "fps", "units", "up", "forward", "description"):
        table.add_column(column, no_wrap=column != "description")
    for row in rows:
        table.add_row(row["name"], str(row["joints"]), f"{row['fps']:g}", row["units"], row["up"],
                      row["forward"], row["description"])
    stdout.print(table)


@app.command("show")
@handle_errors
def show_command(
    name: Annotated[str, typer.Argument(help="Skeleton name or path to a skeleton .toml file.", show_default=False)],
    as_json: JsonOption = False,
    as_toml: Annotated[bool, typer.Option("--toml", help="Print the definition as TOML.")] = False,
) -> None:
    """One skeleton: joints, parents, rest offsets (m), canonical names and mirror pairs."""
    skeleton = load_skeleton(name)
    if as_toml:
        print(skeleton_to_toml(skeleton), end="")
        return
    mirror = skeleton.mirror_index()
    joints = [
        {"index": j, "name": n, "parent": skeleton.joint_names[p] if p >= 0 else None,
         "offset_m": [round(float(v), 6) for v in skeleton.offsets[j]], "canonical": skeleton.canonical[j],
         "mirror": skeleton.joint_names[mirror[j]] if mirror[j] != j else None}
        for j, (n, p) in enumerate(zip(skeleton.joint_names, skeleton.parents))
    ]
    if as_json:
        info = _summary(name)
        info["joints"] = joints
        info["derived"] = [{"canonical": r.canonical, "from": list(r.sources), "weights": list(r.weights)}
                           for r in skeleton.derived]
        print(json.dumps(info, indent=2))
        return
    summary = _summary(name)
    table = Table(title=f"{skeleton.name}: {skeleton.description}", caption=(
        f"{skeleton.joint_count} joints · {skeleton.fps:g} fps · files in {skeleton.units}, up {skeleton.up}, "
        f"forward {skeleton.forward} · rest height {summary['height_m']} m"))
    for column in ("#", "joint", "parent", "offset (m)", "canonical", "mirror"):
        table.add_column(column, no_wrap=column in ("joint", "parent", "offset (m)"))
    for joint in joints:
        offset = " ".join(f"{v:+.3f}" for v in joint["offset_m"])
        table.add_row(str(joint["index"]), joint["name"], joint["parent"] or "—", offset,
                      joint["canonical"] or "", joint["mirror"] or "")
    stdout.print(table)
