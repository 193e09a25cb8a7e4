"""HG-VAE imputation speed (issue 4): windows per second for --steps 10 and --steps 100.

The paper-size model (nodes 3V → 24 → 8 → 1, latents 128/256, hidden 256) on 50-frame windows of
a 31-joint (CMU) skeleton with 20% of the coordinates hidden, imputed in batches of 256 windows
(what `motiongen impute` does for a long clip or many clips). Weights are random unless
``--model`` names a trained checkpoint; speed does not depend on them.

    python benchmarks/bench_impute.py [--device cuda|cpu] [--windows 256] [--model CKPT]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from motiongen.inference.imputation import impute_windows
from motiongen.models import create_model
from motiongen.skeletons import load_skeleton


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--windows", type=int, default=256)
    parser.add_argument("--model", help="a trained HG-VAE checkpoint (default: random weights, cmu31)")
    args = parser.parse_args()
    if args.model:
        from motiongen.api.impute import load_imputer

        model, checkpoint = load_imputer(args.model, args.device)
        joints, frames = checkpoint.skeleton.joint_count, int(checkpoint.frames)
    else:
        torch.manual_seed(0)
        model = create_model("hgvae", load_skeleton("cmu31"), num_classes=1).generator.to(args.device).eval()
        joints, frames = 31, 50
    rng = np.random.default_rng(0)
    windows = rng.normal(0.0, 0.3, (args.windows, frames, joints, 3)).astype(np.float32)
    windows[rng.random(windows.shape) < 0.2] = np.nan
    cpu = platform.processor() or platform.machine()
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"CPU ({cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"
    print(f"device: {name}; {args.windows} windows of {frames} frames × {joints} joints, 20% of coordinates hidden; "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters")
    impute_windows(model, windows[:8], steps=2, device=args.device)  # warm-up
    for steps in (10, 100):
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        impute_windows(model, windows, steps=steps, device=args.device)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        print(f"--steps {steps:>3}: {seconds:7.2f} s, {args.windows / seconds:8.1f} windows/s "
              f"({args.windows * frames / seconds:9.0f} frames/s)")


if __name__ == "__main__":
    main()
