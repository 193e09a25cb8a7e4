"""``models``: what the package ships (`motiongen.pretrained`), read from each file's header and
model card without loading weights."""

from __future__ import annotations

import difflib

from motiongen.errors import ConfigError
from motiongen.pretrained import SHIPPED, card_path, list_shipped, shipped_path


def shipped_summary(name: str) -> dict:
    """Name, purpose, kind, skeleton, actions, window, step, size, digest of a shipped model, and
    whether it carries its critic for fine-tuning."""
    from motiongen.skeletons import skeleton_from_toml_text
    from motiongen.training.checkpoint import read_metadata

    if name not in SHIPPED:
        close = difflib.get_close_matches(name, list_shipped(), n=2, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"no shipped model {name!r}{hint} (shipped: {', '.join(list_shipped())})")
    path = shipped_path(name)
    meta = read_metadata(path)
    return {"name": name, "purpose": SHIPPED[name][1], "kind": meta.get("kind"),
            "skeleton": skeleton_from_toml_text(meta["skeleton"], origin=f"{path} (stored skeleton)").name,
            "actions": list(meta.get("actions") or []),
            "frames": meta.get("frames"), "fps": meta.get("fps"), "step": meta.get("step"),
            "size_mb": round(path.stat().st_size / 1e6, 2), "weights_sha256": meta.get("weights_sha256"),
            "fine_tunable": bool(meta.get("fine_tunable")),  # shipped with its critic: --init-from keeps it
            "path": str(path), "card": str(card_path(name))}


def model_card(name: str) -> str:
    """The shipped model's card (markdown)."""
    shipped_summary(name)  # the name check
    return card_path(name).read_text(encoding="utf-8")
