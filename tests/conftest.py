"""Shared fixtures. Real data lives in ../shared/data beside the checkout; tests that need it skip
with a reason when it is absent, so the suite runs anywhere."""

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


@pytest.fixture
def cmu_dir() -> Path:
    if not CMU_DIR.is_dir():
        pytest.skip(f"real CMU data not found at {CMU_DIR}")
    return CMU_DIR


@pytest.fixture(scope="session")
def walking_bvh() -> Path:
    path = CMU_DIR / "walking" / "02_01.bvh"
    if not path.is_file():
        pytest.skip(f"real CMU data not found at {CMU_DIR}")
    return path
