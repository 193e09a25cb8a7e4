"""Pack a training dataset small enough to travel: every clip resampled to the training frame rate
and kept as positions only (`.npz`, the library's plain format), with a manifest that keeps each
clip's action, subject and split.

Why: the CMU subset is 115 MB of 120 fps BVH, over the 64 MiB a device machine is sent, and that
machine cannot reach `../shared`. Positions at 15 fps are 11 MB. `prepare_dataset` reads the
packed folder into the same windows as the original, because it resamples (slerp, then FK) and drops
leading frames exactly as this tool does, and the 15 → 15 fps resample is the identity (checked by
`tests/test_pack_training_data.py`).

    python tools/pack_training_data.py ../shared/data/cmu .device/cmu15 --fps 15
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

from motiongen.core.ops import resample
from motiongen.data.manifest import find_clips
from motiongen.errors import MotionGenError
from motiongen.formats import read_motions, write_motion
from motiongen.formats._io import atomic_write


def pack(source: str | Path, output: str | Path, fps: float) -> int:
    """Write ``output``/<clip>.npz and ``output``/manifest.csv; returns the number of clips."""
    entries, root = find_clips(source)
    output = Path(output)
    rows, taken = [], set()
    for entry in entries:  # one step per file; the work inside is vectorised
        motions = read_motions(entry.path)
        stem = _packed_stem(entry, root)
        for k, motion in enumerate(motions):
            motion = resample(motion[entry.start_frame:], fps)
            positions_only = motion.replace(rotations=None, root_translation=None)
            name = f"{stem}.npz" if len(motions) == 1 else f"{stem}_{k}.npz"
            while name in taken:  # two clips of one name in different folders outside the dataset's
                name = name.removesuffix(".npz") + "_.npz"
            taken.add(name)
            (output / name).parent.mkdir(parents=True, exist_ok=True)
            write_motion(positions_only, output / name, "npz")
            rows.append((name, entry.action, entry.subject or "", entry.split or ""))
    # A split column, even empty, would make prepare_dataset refuse --holdout-subjects: only
    # where the source has one.
    has_split = any(entry.split is not None for entry in entries)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(("file", "action", "subject", "split") if has_split else ("file", "action", "subject"))
    writer.writerows(row if has_split else row[:3] for row in rows)
    with atomic_write(output / "manifest.csv") as stream:  # last: a half-packed folder has no manifest
        stream.write(text.getvalue())
    return len(rows)


def _packed_stem(entry, root: Path) -> str:
    """Where a clip goes inside the output folder, without suffix: its path below the dataset's
    folder, else (an absolute path or one with ``..`` in the manifest) ``<action>/<file name>`` —
    never a path that leaves the output folder, such as the original's own."""
    try:
        relative = entry.path.resolve().relative_to(root)
    except ValueError:
        relative = Path(entry.action) / entry.path.name
    return relative.with_suffix("").as_posix()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="dataset folder (with manifest.csv, or labelled by folder) or manifest")
    parser.add_argument("output", help="folder to write")
    parser.add_argument("--fps", type=float, required=True, help="the training frame rate")
    args = parser.parse_args()
    try:
        count = pack(args.source, args.output, args.fps)
    except (MotionGenError, OSError) as exc:  # one line, exit code 2, as the CLI's errors
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"{args.output}: {count} clips at {args.fps:g} fps")


if __name__ == "__main__":
    main()
