"""LARNet speed (issue 5): one training iteration (n_critic critic steps with both critics and
their gradient penalties, then one generator step with every loss), and generation of 64- and
1024-frame clips at batch 1 and 64, on the CMU skeleton (31 joints, 13 actions) with the default
config (T = 64, batch 32).

    python benchmarks/bench_larnet.py [--device cuda|cpu] [--threads N] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np
import torch

from bench_gan import timed
from motiongen.models import create_model
from motiongen.skeletons import load_skeleton
from motiongen.training.losses import LarnetLoss, Networks

ACTIONS = ("basketball", "basketball_signal", "climbing", "dancing", "jumping", "kicking", "misc", "punching",
           "running", "swordplay", "walking", "wash_window", "waving")


def build(device: torch.device):
    from motiongen.data.features import Normalization, to_features

    skeleton = load_skeleton("cmu31")
    torch.manual_seed(0)
    pair = create_model("larnet", skeleton, num_classes=len(ACTIONS))
    rest = np.zeros((len(ACTIONS), 64, skeleton.joint_count, 3), dtype=np.float32)
    rest[..., 1] = 1.0
    rest[:, :, 1::2, 0] += 0.2  # any plausible spread: only shapes and timing matter here
    normalization = Normalization.from_features_data(to_features(rest + np.random.default_rng(0).normal(0, 0.1, rest.shape)))
    pair.generator.fit_data(rest, labels=np.arange(len(ACTIONS)), normalization=normalization, actions=ACTIONS)
    return pair.generator.to(device), pair.critic.to(device)


def training_iteration_ms(generator, critic, device, batch: int, n_critic: int, repeats: int) -> float:
    loss = LarnetLoss(Networks(generator, generator, critic, critic, critic, generator, critic))
    optimizers = {"critic": torch.optim.Adam(critic.parameters(), 3e-4, betas=(0.5, 0.999)),
                  "generator": torch.optim.Adam(generator.parameters(), 3e-4, betas=(0.5, 0.999))}
    real = torch.rand(batch, 3, 64, generator.joints, device=device) * 2 - 1
    labels = torch.arange(batch, device=device) % len(ACTIONS)
    latent = generator.make_latent(range(batch), 64).to(device)

    def iteration():
        for phase, repeats_ in (("critic", n_critic), ("generator", 1)):
            for _ in range(repeats_):
                optimizers[phase].zero_grad(set_to_none=True)
                loss.accumulate_gradients(phase, real, labels, latent)
                optimizers[phase].step()

    return timed(iteration, device, repeats)


@torch.no_grad()
def generation_ms(generator, device, batch: int, frames: int, repeats: int) -> float:
    generator.eval()
    latent = generator.make_latent(range(batch), frames).to(device)
    labels = torch.full((batch,), ACTIONS.index("walking"), device=device)
    return timed(lambda: generator(latent, labels), device, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    repeats = 3 if args.quick else 10
    generator, critic = build(device)
    parameters = sum(p.numel() for p in generator.parameters()), sum(p.numel() for p in critic.parameters())
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.processor() or 'CPU'}"
    print(f"device: {device.type} ({name}), torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"cores {os.cpu_count()}")
    print(f"larnet cmu31: generator {parameters[0] / 1e6:.2f} M parameters, critics {parameters[1] / 1e6:.2f} M")
    print(f"training iteration (2 critic steps + 1 generator step, batch 32, T=64): "
          f"{training_iteration_ms(generator, critic, device, 32, 2, repeats):.1f} ms")
    for batch, frames in ((1, 64), (64, 64), (1, 1024), (64, 1024)):
        ms = generation_ms(generator, device, batch, frames, repeats)
        print(f"generate batch {batch:>3} × {frames:>4} frames: {ms:8.1f} ms  ({batch * frames / ms * 1000:,.0f} frames/s)")


if __name__ == "__main__":
    main()
