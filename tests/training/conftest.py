"""Fixtures for the training tests: the tiny test model registered, one torch thread (tiny
models on a shared 2-core machine run ~50× faster without OpenMP spinning), small datasets."""

from __future__ import annotations

import warnings

import pytest
import torch

import _tiny


@pytest.fixture(autouse=True)
def _tiny_model_and_one_thread():
    _tiny.register()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def synthetic():
    return _tiny.synthetic_dataset()


@pytest.fixture(scope="session")
def cmu_data_dir(tmp_path_factory):
    """A manifest folder with four real CMU clips (skips when ../shared/data is absent)."""
    from _data import CMU_DIR

    if not CMU_DIR.is_dir():
        pytest.skip(f"real CMU data not found at {CMU_DIR}")
    return _tiny.cmu_subset(tmp_path_factory.mktemp("cmu") / "data")


@pytest.fixture(scope="session")
def cmu_dataset(cmu_data_dir):
    """Those clips as 16-frame windows at 15 fps (17 windows, 2 actions)."""
    from motiongen.data import prepare_dataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return prepare_dataset(cmu_data_dir, frames=16, fps=15)
