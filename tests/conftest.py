"""Shared fixtures. Real data lives in ../shared/data beside the checkout; tests that need it skip
with a reason when it is absent, so the suite runs anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from _data import CMU_DIR


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Prepared-dataset caches go to a folder of this test run, not the user's ~/.cache."""
    import os

    previous = os.environ.get("MOTIONGEN_CACHE")
    os.environ["MOTIONGEN_CACHE"] = str(tmp_path_factory.mktemp("motiongen-cache"))
    yield
    if previous is None:
        os.environ.pop("MOTIONGEN_CACHE", None)
    else:
        os.environ["MOTIONGEN_CACHE"] = previous


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
