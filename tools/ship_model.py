"""Copy a trained run into the package as a shipped model (inference-only: EMA weights, skeleton,
metadata; or with its critic, for fine-tuning), so `motiongen models`, `sample` and `impute` find
it by name.

    python tools/ship_model.py RUN NAME      # e.g. /tmp/runs/hgvae_small hgvae-cmu31
    python tools/ship_model.py RUN NAME --truncation 0.7   # a generator's default ψ for sample
    python tools/ship_model.py RUN NAME --with-critic      # a GAN that `train --init-from NAME` continues

NAME must be listed in motiongen/pretrained/__init__.py (SHIPPED) and get a card, NAME.md, beside
the file: data, split, steps, hardware and the evaluation table. Prints the size and SHA-256 the
card cites.
"""

from __future__ import annotations

import argparse

from motiongen.pretrained import SHIPPED, shipped_path
from motiongen.training.checkpoint import export_for_inference, read_metadata


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="run folder or checkpoint file")
    parser.add_argument("name", choices=sorted(SHIPPED))
    parser.add_argument("--truncation", type=float, default=None,
                        help="default truncation ψ of the shipped generator (stored in its config)")
    parser.add_argument("--with-critic", action="store_true",
                        help="keep the critic and raw generator (a GAN that train --init-from continues "
                             "with the critic it trained against; more than twice the size)")
    args = parser.parse_args()
    settings = {} if args.truncation is None else {"truncation": args.truncation}
    path = export_for_inference(args.run, shipped_path(args.name), settings, with_critic=args.with_critic,
                                shipped_as=args.name)
    meta = read_metadata(path)
    print(f"{path}: {path.stat().st_size / 1e6:.2f} MB, {meta['kind']} step {meta['step']}, "
          f"weights SHA-256 {meta['weights_sha256']}")


if __name__ == "__main__":
    main()
