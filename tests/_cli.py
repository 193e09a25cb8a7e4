"""Running the ``motiongen`` app in-process and checking what it printed (DESIGN §8)."""

from __future__ import annotations

import warnings

from typer.testing import CliRunner

from motiongen.cli import app


def run(*args, env: dict | None = None):
    """Invoke ``motiongen ARGS``; library warnings stay out of the captured stderr."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CliRunner().invoke(app, [str(a) for a in args], env=env)


def assert_ok(result) -> None:
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"


def assert_one_line_error(result, *fragments: str) -> str:
    """Exit 2, exactly one line on stderr starting with 'error:' and holding every fragment,
    no traceback anywhere."""
    assert result.exit_code == 2, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {lines}"
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]
