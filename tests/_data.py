"""Where the real data lives (../shared/data beside the checkout) and what it holds.
Tests import this by name (pytest puts tests/ on sys.path through conftest.py)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CMU_DIR = SHARED_DATA / "cmu"


def cmu_files() -> list[Path]:
    """Every CMU BVH clip listed in the manifest (empty when ../shared is absent)."""
    manifest = CMU_DIR / "manifest.csv"
    if not manifest.is_file():
        return []
    with manifest.open(newline="") as stream:
        return [CMU_DIR / row["file"] for row in csv.DictReader(stream)]


def cmu_manifest() -> list[dict]:
    manifest = CMU_DIR / "manifest.csv"
    if not manifest.is_file():
        return []
    with manifest.open(newline="") as stream:
        return list(csv.DictReader(stream))


needs_cmu = pytest.mark.skipif(not CMU_DIR.is_dir(), reason=f"real CMU data not found at {CMU_DIR}")


# A user skeleton with a jaw, which no shipped skeleton has: retargeting to it must fail by name.
TALKER = """
name = "talker"
[[joints]]
name = "Hips"
offset = [0.0, 0.95, 0.0]
canonical = "pelvis"
[[joints]]
name = "Head"
parent = "Hips"
offset = [0.0, 0.7, 0.0]
canonical = "head"
[[joints]]
name = "Jaw"
parent = "Head"
offset = [0.0, -0.05, 0.08]
canonical = "jaw"
"""
