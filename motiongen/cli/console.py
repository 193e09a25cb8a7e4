"""Rich consoles: results to stdout, progress and messages to stderr."""

from __future__ import annotations

import warnings

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


def show_warnings_as_lines() -> None:
    """Library warnings (short clips dropped, BVH without units, …) as one ``warning: …`` line
    on stderr, without Python's file, line number and source line: every command, not only train."""

    def display(message, category, filename, lineno, file=None, line=None):
        stderr.print(f"warning: {message}", highlight=False, markup=False)

    warnings.showwarning = display


class RateColumn(ProgressColumn):
    """Items per second, from rich's own speed estimate."""

    def __init__(self, unit: str = "files"):
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:.1f} {self.unit}/s", style="cyan")


def progress_bar(quiet: bool = False, unit: str = "files") -> Progress:
    """A progress bar on stderr with count, rate and ETA."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(unit),
        TimeRemainingColumn(),
        console=stderr,
        disable=quiet,
    )


class DeferredProgress:
    """A progress bar that appears only when the work is known (`start`), so an error found while
    inputs are read prints alone, with no empty bar above it. Use as a context manager; pass
    ``start`` and ``advance`` as the library's ``on_start`` / per-item callbacks."""

    def __init__(self, description: str, quiet: bool = False, unit: str = "files"):
        self.description = description
        self.bar = progress_bar(quiet, unit)
        self.task = None

    def start(self, total: int) -> None:
        self.bar.start()
        self.task = self.bar.add_task(self.description, total=total)

    def advance(self, amount: int = 1) -> None:
        self.bar.advance(self.task, amount)

    def __enter__(self) -> "DeferredProgress":
        return self

    def __exit__(self, *exc) -> None:
        if self.task is not None:
            self.bar.stop()
