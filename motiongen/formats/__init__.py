"""Format registry: one module per format speaking the same verbs (DESIGN §5).

Every format module defines ``NAME``, ``SUFFIXES``, ``NEEDS_ROTATIONS`` (its writer stores
rotations, so position-only motion needs IK first), ``SKELETONS`` (registry skeletons its writer
accepts, or None for any), and some of ``read(path) -> Motion``, ``read_all(path) -> list[Motion]``
(files that hold several sequences), ``write(motion, path)``, ``write_all(motions, path)`` and
``sniff(path) -> bool`` (for suffixes several formats share). Format modules never import each
other; this registry is the only place that knows them all.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from types import ModuleType

from motiongen.core.motion import Motion
from motiongen.errors import ConfigError, FormatError

# Order matters: for a shared suffix the first module whose sniff() accepts the file wins.
_MODULES = {
    "bvh": "motiongen.formats.bvh",
    "ntu": "motiongen.formats.ntu_skeleton",
    "ntu-array": "motiongen.formats.ntu_array",
    "h36m-expmap": "motiongen.formats.h36m_expmap",
    "amass": "motiongen.formats.amass",
    "h36m": "motiongen.formats.h36m_positions",
    "npz": "motiongen.formats.plain",
}
# Default writer per suffix when --to is not given.
_DEFAULT_WRITER = {".bvh": "bvh", ".npz": "npz", ".npy": "npz", ".json": "npz"}


def list_formats() -> list[str]:
    return list(_MODULES)


def get_format(name: str) -> ModuleType:
    try:
        return importlib.import_module(_MODULES[name])
    except KeyError:
        raise ConfigError(f"unknown format {name!r}; known: {', '.join(_MODULES)}") from None


def detect_format(path: str | Path) -> ModuleType:
    """The format module that reads ``path``, by suffix and, where suffixes are shared, content."""
    suffix = Path(path).suffix.lower()
    matches = [get_format(n) for n in _MODULES if suffix in get_format(n).SUFFIXES]
    if not matches:
        known = sorted({s for n in _MODULES for s in get_format(n).SUFFIXES})
        raise FormatError(path, f"unknown file type {suffix or '(no suffix)'!r}; readable: {', '.join(known)}")
    if len(matches) == 1:
        return matches[0]
    for module in matches:
        if getattr(module, "sniff", None) is None or module.sniff(path):
            return module
    raise FormatError(path, f"cannot tell which {suffix} layout this file uses")


def writer_for(path: str | Path, format_name: str | None = None) -> ModuleType:
    """The format module that writes ``path`` (``--to`` wins over the suffix)."""
    writable = [n for n in _MODULES if _can_write(get_format(n))]
    if format_name:
        if format_name in _MODULES and format_name not in writable:
            raise ConfigError(f"format {format_name!r} is read-only; writable: {', '.join(writable)}")
        if format_name not in _MODULES:
            raise ConfigError(f"unknown output format {format_name!r}; writable: {', '.join(writable)}")
        module = get_format(format_name)
    else:
        suffix = Path(path).suffix.lower()
        if suffix not in _DEFAULT_WRITER:
            raise ConfigError(f"cannot tell the output format from {str(path)!r}; pass --to "
                              f"({', '.join(writable)})")
        module = get_format(_DEFAULT_WRITER[suffix])
    return module


def _can_write(module: ModuleType) -> bool:
    return hasattr(module, "write") or hasattr(module, "write_all")


def _accepted(function, options: dict) -> dict:
    """The options a reader/writer takes: one command line serves every format, so an option
    for another format (``--layout`` on a BVH input) does not apply here."""
    parameters = inspect.signature(function).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return options
    return {k: v for k, v in options.items() if k in parameters}


def read_motions(path: str | Path, format_name: str | None = None, **options) -> list[Motion]:
    """Every sequence in a motion file."""
    if not Path(path).exists():
        raise FormatError(path, "no such file")
    module = get_format(format_name) if format_name else detect_format(path)
    if hasattr(module, "read_all"):
        motions = module.read_all(path, **_accepted(module.read_all, options))
    else:
        motions = [module.read(path, **_accepted(module.read, options))]
    if not motions:
        raise FormatError(path, "holds no motion")
    return motions


def read_motion(path: str | Path, format_name: str | None = None, **options) -> Motion:
    """The one sequence in a motion file (an error if it holds several)."""
    motions = read_motions(path, format_name, **options)
    if len(motions) != 1:
        raise FormatError(path, f"holds {len(motions)} sequences; use read_motions()")
    return motions[0]


def write_motions(motions: list[Motion], path: str | Path, format_name: str | None = None, **options) -> None:
    """Write one or several motions to one file (formats holding several) or raise."""
    module = writer_for(path, format_name)
    if hasattr(module, "write_all"):
        module.write_all(motions, path, **_accepted(module.write_all, options))
    elif len(motions) == 1:
        module.write(motions[0], path, **_accepted(module.write, options))
    else:
        raise ConfigError(f"format {module.NAME!r} holds one sequence per file; write to a folder")


def write_motion(motion: Motion, path: str | Path, format_name: str | None = None, **options) -> None:
    write_motions([motion], path, format_name, **options)
