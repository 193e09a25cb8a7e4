"""File plumbing shared by the format modules: atomic writes, stdout, safe array loading."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import IO, Iterator

import numpy as np

from motiongen.errors import FormatError

STDOUT = "-"


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, binary: bool = False) -> Iterator[IO]:
    """Write to a temporary file beside ``path`` and rename it into place only when the block
    finishes without an exception, so a failed or interrupted write never leaves a partial file.
    ``"-"`` writes to stdout instead."""
    if str(path) == STDOUT:
        if binary:
            yield sys.stdout.buffer
            sys.stdout.buffer.flush()
        else:
            yield sys.stdout
            sys.stdout.flush()
        return
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise FormatError(target, f"output folder {directory} does not exist")
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=directory)
    try:
        os.chmod(temp_name, user_file_mode())  # mkstemp makes 0600; outputs get the user's usual mode
        with os.fdopen(handle, "wb" if binary else "w", encoding=None if binary else "utf-8",
                       newline=None if binary else "\n") as stream:
            yield stream
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


def user_file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file (0666 less the umask)."""
    current = os.umask(0)
    os.umask(current)
    return 0o666 & ~current


def save_npz(path: str | os.PathLike, **arrays) -> None:
    """``np.savez`` through `atomic_write` (no pickled objects: every value must be a plain array)."""
    buffer = io.BytesIO()
    np.savez(buffer, **{k: np.asarray(v) for k, v in arrays.items()})
    with atomic_write(path, binary=True) as stream:
        stream.write(buffer.getvalue())


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    with atomic_write(path, binary=True) as stream:
        stream.write(buffer.getvalue())


def load_npy(path: str | os.PathLike, mmap: bool = False) -> np.ndarray:
    """Load a ``.npy`` file without ever unpickling; errors become `FormatError`."""
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise FormatError(path, "holds pickled Python objects, which motiongen never loads") from None
        raise FormatError(path, f"not a valid .npy array ({exc})") from None
    except (OSError, EOFError) as exc:
        raise FormatError(path, f"cannot read .npy array ({exc})") from None


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file, loaded eagerly with ``allow_pickle=False``."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise FormatError(path, "holds pickled Python objects, which motiongen never loads") from None
        raise FormatError(path, f"not a valid .npz archive ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise FormatError(path, f"cannot read .npz archive ({exc})") from None


def scalar(archive: dict[str, np.ndarray], key: str, path, kind=float):
    """One scalar from an npz (bytes or str for text), with a clear error."""
    value = archive[key]
    try:
        item = value.item() if value.shape == () or value.size == 1 else None
    except ValueError:
        item = None
    if item is None:
        raise FormatError(path, f"key {key!r} must be a single value, got shape {list(value.shape)}")
    if kind is str:
        return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
    try:
        return kind(item)
    except (TypeError, ValueError):
        raise FormatError(path, f"key {key!r} must be a number, got {item!r}") from None
