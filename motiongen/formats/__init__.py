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
    if format_name:
        module = get_format(format_name)
    else:
        suffix = Path(path).suffix.lower()
        if suffix not in _DEFAULT_WRITER:
            raise ConfigError(f"cannot tell the output format from {str(path)!r}; pass --to "
                              f"({', '.join(n for n in _MODULES if _can_write(get_format(n)))})")
        module = get_format(_DEFAULT_WRITER[suffix])
    if not _can_write(module):
        raise ConfigError(f"format {module.NAME!r} is read-only")
    return module


def _can_write(module: ModuleType) -> bool:
    return hasattr(module, "write") or hasattr(module, "write_all")


def read_motions(path: str | Path, format_name: str | None = None, **options) -> list[Motion]:
    """Every sequence in a motion file."""
    if not Path(path).exists():
        raise FormatError(path, "no such file")
    module = get_format(format_name) if format_name else detect_format(path)
    if hasattr(module, "read_all"):
        motions = module.read_all(path, **options)
    else:
        motions = [module.read(path, **options)]
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
        module.write_all(motions, path, **options)
    elif len(motions) == 1:
        module.write(motions[0], path, **options)
    else:
        raise ConfigError(f"format {module.NAME!r} holds one sequence per file; write to a folder")


def write_motion(motion: Motion, path: str | Path, format_name: str | None = None, **options) -> None:
    write_motions([motion], path, format_name, **options)
