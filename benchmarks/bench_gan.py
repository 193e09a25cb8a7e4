"""GAN speed: training iteration and generation throughput (issue 3's benchmark).

Kinetic-GAN at the paper's NTU configuration (25 joints, T=64, batch 32, latent 512, mapping depth
4, 60 classes): ms per training iteration (one critic step with gradient penalty, the generator
stepped every 5th iteration, Adam on both), and generation at batch 1, 256 and 1024 with and
without truncation ψ=0.95. Long sequences (T=1024, batch 1 and 64) come from CSGN, which generates
any length (a Kinetic-GAN checkpoint makes only its trained length).

Reference on an NVIDIA H200 (the public Kinetic-GAN code, fp32, data on the GPU): 66.5 ms per
iteration, 123.8 ms for 1024 clips of 64 frames, 131.9 ms for one truncated sample.

    python benchmarks/bench_gan.py [--device cuda|cpu] [--precision fp32|bf16] [--compile] [--quick]
                                   [--temporal-upsampling nearest|linear]

``--compile`` times the networks under ``torch.compile`` as ``motiongen train --compile`` runs them
(the gradient penalty's double backward stays eager) and the generator compiled for generation;
compilation itself is in the warm-up, not in the figures. ``--temporal-upsampling linear`` times
the Kinetic-GAN with its linear time resize (model option; the paper's is nearest).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import time

import torch

from motiongen.models import create_model
from motiongen.skeletons import load_skeleton
from motiongen.training.losses import Networks, WganGpLoss


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(function, device, repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``function()`` in milliseconds."""
    for _ in range(warmup):
        function()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        synchronize(device)
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def autocast_for(precision: str, device: torch.device):
    """A context factory as `motiongen train` uses: bf16 autocast on CUDA, else nothing."""
    if precision == "bf16" and device.type == "cuda":
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


def training_iteration_ms(pair, joint_count: int, device, precision: str, batch: int, repeats: int,
                          compile: bool = False) -> float:
    generator, critic = pair.generator.to(device).train(), pair.critic.to(device).train()
    optimiser_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimiser_d = torch.optim.Adam(critic.parameters(), lr=2e-4, betas=(0.5, 0.999))
    autocast = autocast_for(precision, device)
    fast_generator, fast_critic = (torch.compile(generator), torch.compile(critic)) if compile else (generator, critic)
    networks = Networks(generator_train=fast_generator, generator_plain=fast_generator, critic_train=fast_critic,
                        critic_plain=fast_critic, critic_eager=critic, generator_module=generator,
                        critic_module=critic)
    loss = WganGpLoss(networks, gp_weight=10.0, autocast=autocast)
    real = torch.rand(batch, 3, pair.config.frames, joint_count, device=device) * 2 - 1
    labels = torch.randint(0, 60, (batch,), device=device)
    latent_size = generator.latent_size
    counter = {"step": 0}

    def iteration():
        latent = torch.randn(batch, latent_size, device=device)
        optimiser_d.zero_grad(set_to_none=True)
        loss.accumulate_gradients("critic", real, labels, latent)
        optimiser_d.step()
        counter["step"] += 1
        if counter["step"] % 5 == 0:
            optimiser_g.zero_grad(set_to_none=True)
            loss.accumulate_gradients("generator", None, labels, torch.randn(batch, latent_size, device=device))
            optimiser_g.step()

    # Time whole cycles of 5 iterations so the generator step is counted once per 5.
    def cycle():
        for _ in range(5):
            iteration()

    return timed(cycle, device, repeats) / 5.0


@torch.no_grad()
def generation_ms(generator, device, batch: int, frames: int, truncation: float, repeats: int,
                  latent_shape, precision: str = "fp32", compile: bool = False) -> float:
    generator = generator.to(device).eval()
    forward = torch.compile(generator) if compile else generator
    latent = torch.randn((batch, *latent_shape), device=device)
    labels = torch.randint(0, 60, (batch,), device=device)
    autocast = autocast_for(precision, device)

    def generate():
        with autocast():
            return forward(latent, labels, truncation)

    return timed(generate, device, repeats, warmup=2 if compile else 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--compile", action="store_true", help="torch.compile the networks (as train --compile)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (CPU)")
    parser.add_argument("--temporal-upsampling", default="nearest", choices=["nearest", "linear"],
                        help="the Kinetic-GAN generator's time resize (model option temporal_upsampling)")
    args = parser.parse_args()
    device = torch.device(args.device)
    repeats = 3 if args.quick or device.type == "cpu" else 20
    torch.manual_seed(0)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    print(f"device: {device} ({name}), torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"cpus {os.cpu_count()}, precision {args.precision}{', compiled' if args.compile else ''}")

    skeleton = load_skeleton("ntu25")
    kgan = create_model("kinetic-gan", skeleton=skeleton, num_classes=60, frames=64, latent_dim=512,
                        mapping_depth=4, temporal_upsampling=args.temporal_upsampling)
    params_g = sum(p.numel() for p in kgan.generator.parameters()) / 1e6
    params_d = sum(p.numel() for p in kgan.critic.parameters()) / 1e6
    print(f"Kinetic-GAN NTU: generator {params_g:.2f} M, critic {params_d:.2f} M parameters, T=64, batch 32, "
          f"{args.temporal_upsampling} time resize")
    print()
    print(f"{'measurement':<58} {'ms':>10}")
    print("-" * 69)
    ms = training_iteration_ms(kgan, skeleton.joint_count, device, args.precision, 32, max(1, repeats // 2),
                               args.compile)
    print(f"{'training iteration (critic + GP, generator every 5th)':<58} {ms:>10.1f}")
    kgan.generator.compute_truncation_centres(samples_per_class=16)
    shape = (kgan.generator.latent_size,)
    batches = (1, 256, 1024)
    for truncation in (1.0, 0.95):
        for batch in batches:
            ms = generation_ms(kgan.generator, device, batch, 64, truncation, repeats, shape, args.precision,
                               args.compile)
            label = f"generate {batch} × 64 frames" + (f", ψ={truncation}" if truncation < 1 else "")
            print(f"{label:<58} {ms:>10.1f}")
    csgn = create_model("csgn", skeleton=skeleton, num_classes=60, frames=64)
    for batch in (1, 64):
        latent = csgn.generator.make_latent(list(range(batch)), 1024)
        generator = csgn.generator.to(device).eval()
        labels = torch.zeros(batch, dtype=torch.long, device=device)
        with torch.no_grad():
            ms = timed(lambda: generator(latent.to(device), labels, 1.0), device, max(1, repeats // 2))
        print(f"{f'CSGN generate {batch} × 1024 frames':<58} {ms:>10.1f}")


if __name__ == "__main__":
    main()
