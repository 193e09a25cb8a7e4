"""`tools/pack_training_data.py`: a dataset packed to positions at the training frame rate (small
enough to travel to a device machine) prepares into the same windows as the original."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings

import numpy as np

from _data import REPO, needs_cmu

_SPEC = importlib.util.spec_from_file_location("pack_training_data", REPO / "tools" / "pack_training_data.py")
pack_training_data = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(pack_training_data)

CLIPS = ("walking/02_01.bvh", "jumping/16_01.bvh", "basketball/06_04.bvh")


def _prepare(source, **options):
    from motiongen.data import prepare_dataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return prepare_dataset(source, frames=16, fps=15, **options)


@needs_cmu
def test_packed_clips_prepare_into_the_same_windows(tmp_path):
    from _data import CMU_DIR, cmu_manifest

    rows = {row["file"]: row for row in cmu_manifest()}
    lines = ["file,action,subject,tpose_frame0"]  # absolute paths, frame 0 a T-pose to drop
    lines += [f"{CMU_DIR / name},{rows[name]['action']},{rows[name]['subject']},{rows[name]['tpose_frame0']}"
              for name in CLIPS]
    (tmp_path / "original.csv").write_text("\n".join(lines) + "\n")
    assert pack_training_data.pack(tmp_path / "original.csv", tmp_path / "packed", 15) == len(CLIPS)
    manifest = (tmp_path / "packed" / "manifest.csv").read_text().splitlines()
    assert manifest[0] == "file,action,subject"  # no split column: --holdout-subjects stays usable
    assert manifest[1].startswith("walking/02_01.npz,walking,02")  # absolute paths land inside the output
    assert not any((CMU_DIR / name).with_suffix(".npz").exists() for name in CLIPS)
    original = _prepare(tmp_path / "original.csv", holdout_subjects=("16",))
    packed = _prepare(tmp_path / "packed", holdout_subjects=("16",))
    assert packed.actions == original.actions and len(packed) == len(original) > 3
    np.testing.assert_array_equal(packed.windows, original.windows)
    np.testing.assert_array_equal(packed.labels, original.labels)
    np.testing.assert_array_equal(packed.normalization.half_range, original.normalization.half_range)
    assert [clip["split"] for clip in packed.clips] == [clip["split"] for clip in original.clips]
    assert sum(path.stat().st_size for path in (tmp_path / "packed").rglob("*.npz")) < 0.2 * sum(
        (CMU_DIR / name).stat().st_size for name in CLIPS)


@needs_cmu
def test_a_split_column_is_kept(tmp_path):
    from _data import CMU_DIR

    (tmp_path / "original.csv").write_text(f"file,action,split\n{CMU_DIR / CLIPS[0]},walking,test\n"
                                           f"{CMU_DIR / CLIPS[2]},basketball,\n")
    pack_training_data.pack(tmp_path / "original.csv", tmp_path / "packed", 15)
    rows = (tmp_path / "packed" / "manifest.csv").read_text().splitlines()
    assert rows[0] == "file,action,subject,split" and rows[1].endswith(",test") and rows[2].endswith(",train")


def test_a_missing_source_is_one_line_and_exit_code_2(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "tools" / "pack_training_data.py"), str(tmp_path / "absent"),
                             str(tmp_path / "packed"), "--fps", "15"], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "absent" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "packed").exists()
