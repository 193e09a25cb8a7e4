"""``motiongen models list | show NAME``: the models shipped inside the package."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from motiongen.cli.console import stdout
from motiongen.cli.errors import handle_errors
from motiongen.cli.options import JsonOption

app = typer.Typer(help="Models trained by the project and shipped with it (use a name wherever a checkpoint is asked).",
                  no_args_is_help=True)


@app.command("list")
@handle_errors
def list_command(as_json: JsonOption = False) -> None:
    """Every shipped model: name, kind, skeleton, actions, size and purpose."""
    from motiongen.api.models import shipped_summary
    from motiongen.pretrained import list_shipped

    rows = [shipped_summary(name) for name in list_shipped()]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title="shipped models")
    for column in ("name", "kind", "skeleton", "actions", "MB", "for"):
        table.add_column(column, no_wrap=column != "for")
    for row in rows:
        table.add_row(row["name"], str(row["kind"]), str(row["skeleton"]), str(len(row["actions"])),
                      f"{row['size_mb']:.1f}", row["purpose"])
    stdout.print(table)


@app.command("show")
@handle_errors
def show_command(
    name: Annotated[str, typer.Argument(help="Shipped model name (see motiongen models list).", show_default=False)],
    as_json: JsonOption = False,
) -> None:
    """A shipped model's card: data, split, training, hardware, evaluation, acknowledgements."""
    from rich.markdown import Markdown  # here: its parser costs every other command 50 ms at start-up

    from motiongen.api.models import model_card, shipped_summary

    if as_json:
        print(json.dumps({**shipped_summary(name), "card_text": model_card(name)}, indent=2))
        return
    stdout.print(Markdown(model_card(name)))
