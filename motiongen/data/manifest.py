"""Which motion files make a dataset, and their labels: a manifest CSV or a labelled folder tree.

A manifest is a CSV with a header row. Required columns: ``file`` (a path relative to the
manifest's folder, or absolute) and ``action``. Optional: ``subject``, ``split`` (``train``,
``test``, …; an empty cell is ``train``), ``start_frame`` (frames before it are dropped) and the
CMU subset's ``tpose_frame0`` (``yes`` means frame 0 is a converter-added T-pose: start at 1).
Other columns are ignored. Errors name the manifest and the line.

A folder without ``manifest.csv`` is scanned instead: every motion file below it (hidden files and
folders skipped, so a cache folder inside is never read as data), labelled with the name of the
folder that holds it (``cmu/walking/02_01.bvh`` → ``walking``).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from motiongen.errors import FormatError

MANIFEST_NAME = "manifest.csv"
REQUIRED_COLUMNS = ("file", "action")
MAX_MISSING_LISTED = 5
_YES = {"yes", "true", "1", "y"}
_NO = {"no", "false", "0", "n", ""}


@dataclass(frozen=True)
class ClipEntry:
    """One clip of a dataset, before reading it."""

    path: Path  # absolute
    file: str  # as the manifest writes it (or relative to the scanned folder)
    action: str
    subject: str | None = None
    split: str | None = None  # None when the source has no split column
    start_frame: int = 0
    line: int | None = None  # manifest line, for messages


def motion_suffixes() -> frozenset[str]:
    """Every file suffix some motiongen format reads."""
    from motiongen.formats import get_format, list_formats

    return frozenset(s for name in list_formats() for s in get_format(name).SUFFIXES)


# --- folder scan ----------------------------------------------------------------------------------

def scan_folder(folder: str | Path) -> list[ClipEntry]:
    """Every motion file below ``folder``, sorted by path, labelled by its parent folder's name."""
    folder = Path(folder).resolve()
    suffixes = motion_suffixes()
    entries = []
    for directory, subdirs, files in os.walk(folder):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(directory) / name
            if name.startswith(".") or path.suffix.lower() not in suffixes:
                continue
            entries.append(ClipEntry(path=path, file=path.relative_to(folder).as_posix(), action=path.parent.name))
    entries.sort(key=lambda e: e.file)
    if not entries:
        raise FormatError(folder, f"no motion files found (readable: {', '.join(sorted(suffixes))})")
    return entries


# --- manifest ---------------------------------------------------------------------------------------

def read_manifest(manifest: str | Path) -> list[ClipEntry]:
    """The clips a manifest CSV lists (see the module docstring); every named file must exist."""
    manifest = Path(manifest)
    try:
        with manifest.open(newline="", encoding="utf-8-sig") as stream:
            return _parse(manifest, stream)
    except OSError as exc:
        raise FormatError(manifest, f"cannot read manifest ({exc.strerror or exc})") from None
    except csv.Error as exc:
        raise FormatError(manifest, f"not a valid CSV file ({exc})") from None
    except UnicodeDecodeError:
        raise FormatError(manifest, "not a UTF-8 text file") from None


def _parse(manifest: Path, stream) -> list[ClipEntry]:
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        raise FormatError(manifest, "empty manifest; it needs a header row with at least file,action", line=1)
    columns = [c.strip().lower() for c in header]
    absent = [c for c in REQUIRED_COLUMNS if c not in columns]
    if absent:
        raise FormatError(manifest, f"missing column(s) {', '.join(absent)} in the header "
                          f"(found: {', '.join(c for c in columns if c) or 'none'}; need at least file,action)", line=1)
    index = {name: columns.index(name) for name in columns if name}
    has_split = "split" in index
    folder = manifest.parent.resolve()
    entries: list[ClipEntry] = []
    missing: list[tuple[int, str]] = []
    seen: dict[Path, int] = {}
    line = reader.line_num
    for row in reader:
        row_line, line = line + 1, reader.line_num  # a quoted cell may span lines: report the first
        if not any(cell.strip() for cell in row):
            continue
        cell = lambda name: row[index[name]].strip() if name in index and index[name] < len(row) else ""  # noqa: E731
        file, action = cell("file"), cell("action")
        if not file:
            raise FormatError(manifest, "empty file cell", line=row_line)
        if not action:
            raise FormatError(manifest, f"empty action for {file}", line=row_line)
        path = Path(file) if Path(file).is_absolute() else folder / file
        path = Path(os.path.normpath(path))
        if path in seen:
            raise FormatError(manifest, f"{file} is listed twice (lines {seen[path]} and {row_line})", line=row_line)
        seen[path] = row_line
        if not path.is_file():
            missing.append((row_line, file))
        entries.append(ClipEntry(
            path=path, file=file, action=action, subject=cell("subject") or None,
            split=(cell("split") or "train") if has_split else None,
            start_frame=_start_frame(manifest, row_line, cell("start_frame"), cell("tpose_frame0")),
            line=row_line,
        ))
    if missing:
        listed = "; ".join(f"line {n}: {f}" for n, f in missing[:MAX_MISSING_LISTED])
        more = f" and {len(missing) - MAX_MISSING_LISTED} more" if len(missing) > MAX_MISSING_LISTED else ""
        raise FormatError(manifest, f"{len(missing)} listed file(s) do not exist ({listed}{more})",
                          line=missing[0][0])
    if not entries:
        raise FormatError(manifest, "lists no files", line=line)
    return entries


def _start_frame(manifest: Path, line: int, start_frame: str, tpose_frame0: str) -> int:
    if start_frame:
        try:
            value = int(start_frame)
        except ValueError:
            value = -1
        if value < 0:
            raise FormatError(manifest, f"start_frame must be a whole number ≥ 0, got {start_frame!r}", line=line)
        return value
    flag = tpose_frame0.lower()
    if flag in _YES:
        return 1
    if flag not in _NO:
        raise FormatError(manifest, f"tpose_frame0 must be yes or no, got {tpose_frame0!r}", line=line)
    return 0


# --- either ---------------------------------------------------------------------------------------

def find_clips(source: str | Path) -> tuple[list[ClipEntry], Path]:
    """The clips of a folder (its ``manifest.csv``, else a scan) or of a manifest CSV, and the
    folder the dataset lives in."""
    source = Path(source)
    if source.is_dir():
        manifest = source / MANIFEST_NAME
        if manifest.is_file():
            return read_manifest(manifest), source.resolve()
        return scan_folder(source), source.resolve()
    if not source.exists():
        raise FormatError(source, "no such file or folder")
    if source.suffix.lower() != ".csv":
        raise FormatError(source, "expected a folder of motion files or a manifest .csv")
    return read_manifest(source), source.parent.resolve()
