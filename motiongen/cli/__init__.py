"""The ``motiongen`` command: a thin Typer layer over `motiongen.api` (one module per command)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from motiongen import __version__
from motiongen.cli import convert, evaluate, export_mesh, impute, info, models, render, sample, skeletons, train

app = typer.Typer(
    name="motiongen",
    help="Generate, impute and convert skeleton motion (BVH, NTU RGB+D, Human3.6M, AMASS).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"motiongen {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                   help="Print the version and exit.")] = None,
) -> None:
    """motiongen: skeleton motion toolkit."""
    from motiongen.cli.console import show_warnings_as_lines

    show_warnings_as_lines()


app.command("convert")(convert.convert)
app.command("info")(info.info)
app.command("train")(train.train)
app.command("sample")(sample.sample)
app.command("render")(render.render)
app.command("impute")(impute.impute)
app.command("evaluate")(evaluate.evaluate)
app.command("export-mesh")(export_mesh.export_mesh)
app.add_typer(skeletons.app, name="skeletons")
app.add_typer(models.app, name="models")


def main() -> None:
    app()
