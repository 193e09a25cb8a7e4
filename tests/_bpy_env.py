"""A cached virtual environment with Blender's ``bpy`` module, for the Blender round-trip tests.

``bpy`` (Blender as a Python module, from PyPI) is pinned by Blender to one Python minor version:
bpy 4.5.x needs CPython 3.11 exactly. So it never goes into motiongen's own environment; it lives
in its own virtual environment, built once and reused:

* location: ``$MOTIONGEN_BPY_VENV``, else ``<repo>/.cache/bpy-venv`` (git-ignored);
* interpreter: ``$MOTIONGEN_BPY_PYTHON``, else ``sys.executable`` when it is 3.11, else
  ``python3.11`` on ``PATH``;
* contents: ``bpy>=4.5,<4.6`` and ``numpy`` (about 370 MB; ~35 s from a local mirror).

Reused as is when its Python already imports ``bpy`` and ``numpy``. A file lock next to the venv
keeps parallel test sessions from building it twice.

From the command line (what ``.ci/run`` calls, so the slow install happens up front)::

    python tests/_bpy_env.py            # build or reuse; print the venv's python; exit 1 if impossible

The test module imports :func:`ensure_bpy_python` and turns :class:`BpyUnavailable` into a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

BPY_REQUIREMENT = "bpy>=4.5,<4.6"
BPY_PYTHON_VERSION = (3, 11)  # what bpy 4.5.x is built for
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VENV = REPO_ROOT / ".cache" / "bpy-venv"
INSTALL_TIMEOUT_S = 1800


class BpyUnavailable(RuntimeError):
    """bpy cannot be made available here; the message says why (used as the skip reason)."""


def venv_dir() -> Path:
    env = os.environ.get("MOTIONGEN_BPY_VENV")
    return Path(env).expanduser().resolve() if env else DEFAULT_VENV


def venv_python(venv: Path) -> Path:
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def _python_version(exe: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True, timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    try:
        major, minor = out.stdout.strip().split(".")
        return int(major), int(minor)
    except ValueError:
        return None


def find_python311() -> str:
    """An interpreter bpy 4.5 can be installed for, or raise BpyUnavailable."""
    want = "%d.%d" % BPY_PYTHON_VERSION
    env = os.environ.get("MOTIONGEN_BPY_PYTHON")
    if env:
        if _python_version(env) != BPY_PYTHON_VERSION:
            raise BpyUnavailable(f"MOTIONGEN_BPY_PYTHON={env} is not a working Python {want}")
        return env
    if sys.version_info[:2] == BPY_PYTHON_VERSION:
        return sys.executable
    for name in (f"python{want}", "python3", "python"):
        exe = shutil.which(name)
        if exe and _python_version(exe) == BPY_PYTHON_VERSION:
            return exe
    raise BpyUnavailable(
        f"bpy 4.5 needs Python {want} and none was found (this is Python "
        f"{sys.version_info[0]}.{sys.version_info[1]}; no python{want} on PATH; "
        f"set MOTIONGEN_BPY_PYTHON to one)"
    )


def _works(py: Path) -> bool:
    if not py.exists():
        return False
    try:
        out = subprocess.run(
            [str(py), "-c", "import bpy, numpy"], capture_output=True, text=True, timeout=300
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0


@contextlib.contextmanager
def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            import fcntl
        except ImportError:  # Windows: no lock; parallel first runs may race, which pip survives
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _tail(text: str, n: int = 15) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip() and "is ignored: it is neither" not in ln]
    return "\n".join(lines[-n:])


def ensure_bpy_python(log=None) -> Path:
    """Return the python of a venv that imports bpy, building the venv if needed.

    Raises BpyUnavailable (with the reason) when there is no Python 3.11 or the install fails,
    for example without network access to a package index.
    """
    say = log or (lambda msg: None)
    venv = venv_dir()
    py = venv_python(venv)
    if _works(py):
        return py
    with _lock(venv.parent / (venv.name + ".lock")):
        if _works(py):  # another session built it while we waited
            return py
        base = find_python311()
        t0 = time.monotonic()
        if venv.exists():
            if not (venv / "pyvenv.cfg").exists():
                raise BpyUnavailable(f"{venv} exists and is not a virtual environment; remove it")
            say(f"bpy venv at {venv} does not import bpy; rebuilding it")
            shutil.rmtree(venv)
        say(f"creating bpy venv at {venv} with {base}")
        out = subprocess.run(
            [base, "-m", "venv", str(venv)], capture_output=True, text=True, timeout=600
        )
        if out.returncode != 0 or not py.exists():
            raise BpyUnavailable(
                f"could not create a venv at {venv}:\n{_tail(out.stdout + out.stderr)}"
            )
        say(f"installing {BPY_REQUIREMENT} numpy (about 370 MB)")
        try:
            out = subprocess.run(
                [str(py), "-m", "pip", "install", "--disable-pip-version-check",
                 BPY_REQUIREMENT, "numpy"],
                capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            raise BpyUnavailable(
                f"pip install {BPY_REQUIREMENT} took more than {INSTALL_TIMEOUT_S} s"
            ) from None
        if out.returncode != 0:
            raise BpyUnavailable(
                f"pip install {BPY_REQUIREMENT} failed (no network or no wheel for this "
                f"platform?):\n{_tail(out.stdout + out.stderr)}"
            )
        if not _works(py):
            raise BpyUnavailable(f"{BPY_REQUIREMENT} installed into {venv} but `import bpy` fails")
        say(f"bpy venv ready in {time.monotonic() - t0:.0f} s")
        return py


def main() -> int:
    def log(msg: str) -> None:
        print(f"_bpy_env: {msg}", file=sys.stderr, flush=True)

    try:
        py = ensure_bpy_python(log)
    except BpyUnavailable as exc:
        log(f"bpy unavailable: {exc}")
        return 1
    print(py)
    return 0


if __name__ == "__main__":
    sys.exit(main())
