"""One ordered table from exceptions to a one-line message and an exit code (DESIGN §8).

Known errors print ``error: <message>`` on stderr and exit 2 (bad input or usage) or 1 (the
system failed us); unknown exceptions keep their traceback. ``MOTIONGEN_DEBUG=1`` shows the
traceback for known ones too.
"""

from __future__ import annotations

import functools
import os
import sys

import typer

from motiongen.errors import MotionGenError

EXIT_USAGE = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130

_TABLE: list[tuple[type[BaseException], int]] = [
    (MotionGenError, EXIT_USAGE),
    (FileNotFoundError, EXIT_USAGE),
    (IsADirectoryError, EXIT_USAGE),
    (PermissionError, EXIT_FAILURE),
    (OSError, EXIT_FAILURE),
    (MemoryError, EXIT_FAILURE),
]


def message_for(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename}: {error.strerror or error}"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def report(error_message: str) -> None:
    print(f"error: {error_message}", file=sys.stderr)


def handle_errors(command):
    """Wrap a Typer command so known errors become one line and an exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except typer.Exit:
            raise
        except BaseException as error:
            for kind, code in _TABLE:
                if isinstance(error, kind):
                    if os.environ.get("MOTIONGEN_DEBUG"):
                        raise
                    report(message_for(error))
                    raise typer.Exit(code) from None
            raise

    return wrapper
