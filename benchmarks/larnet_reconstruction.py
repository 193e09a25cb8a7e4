"""Where a LARNet generator loses its actions: per action, how often the shipped recogniser reads
(a) real training windows, (b) their reconstructions Dec(I(S(x₀), E(x))) — the autoencoding path
the generator's fakes are decoded through — and (c) fakes G_m(a, p, z) started at the same real
first frames; with the root's travel over the window (real vs reconstructed), which shows the
planted root turning foot errors into drift.

    python benchmarks/larnet_reconstruction.py RUN [--data ../shared/data/cmu] [--windows 48]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch

from motiongen.data import prepare_dataset
from motiongen.data.features import from_features, to_channels_last
from motiongen.metrics.evaluation import load_recognizer
from motiongen.training.checkpoint import load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--data", default="../shared/data/cmu")
    parser.add_argument("--subjects", default="08,13,16", help="held out in training: their windows are skipped")
    parser.add_argument("--windows", type=int, default=48, help="training windows per action (drawn with seed 0)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    checkpoint = load_checkpoint(args.run)
    generator = checkpoint.pair.generator.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = prepare_dataset(args.data, checkpoint.skeleton.name, frames=int(checkpoint.frames),
                                  fps=float(checkpoint.fps), holdout_subjects=args.subjects.split(","))
    train = dataset.split("train")
    recognizer = load_recognizer(None)
    rng = np.random.default_rng(0)

    def metres(features: torch.Tensor) -> np.ndarray:
        return from_features(train.normalization.denormalize(to_channels_last(features))).numpy()

    print(f"{'action':<18} {'real':>5} {'recon':>6} {'fake':>5}  {'recon MSE':>9}  travel real → recon (m)")
    for label, action in enumerate(train.actions):
        pool = np.flatnonzero(train.labels == label)
        if pool.size == 0:
            continue
        picks = rng.choice(pool, args.windows, replace=pool.size < args.windows)
        real = torch.as_tensor(np.asarray(train.features(picks)))
        labels = torch.full((len(picks),), label)
        with torch.no_grad():
            out = generator(generator.make_latent(list(range(len(picks))), real.shape[2]), labels, real=real,
                            reconstruct=True)
        clips = {"real": metres(real), "reconstruction": metres(out["reconstruction"]), "fake": metres(out["fake"])}
        read = {name: float((recognizer.embed(c.astype(np.float32))[1].argmax(1) == label).mean())
                for name, c in clips.items()}
        travel = {name: float(np.linalg.norm(c[:, -1, 0, [0, 2]] - c[:, 0, 0, [0, 2]], axis=-1).mean())
                  for name, c in clips.items()}
        mse = float((out["reconstruction"] - real).square().mean())
        print(f"{action:<18} {read['real']:>5.0%} {read['reconstruction']:>6.0%} {read['fake']:>5.0%}  {mse:>9.4f}  "
              f"{travel['real']:.2f} → {travel['reconstruction']:.2f}")


if __name__ == "__main__":
    main()
