"""``motiongen sample --action A --frames N -o out.bvh [--model CKPT]`` (default: the shipped generator)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from motiongen.cli.console import stderr, stdout
from motiongen.cli.errors import handle_errors
from motiongen.cli.options import FpsOption, QuietOption, SkeletonOption
from motiongen.errors import ConfigError


@handle_errors
def sample(
    action: Annotated[str, typer.Option("--action", "-a", help="Action name or index (see the checkpoint's actions).")],
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Generator: a checkpoint, run folder or shipped name (default: the shipped larnet-cmu31).", show_default=False)] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Output .bvh, .npy or .npz (numbered when --count > 1), or - for BVH on stdout.")] = None,
    frames: Annotated[Optional[int], typer.Option("--frames", "-n", help="Frames to generate (default: the trained length).")] = None,
    count: Annotated[int, typer.Option("--count", "-k", help="How many samples (sample k uses seed SEED+k).")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the first sample.")] = 0,
    truncation: Annotated[Optional[float], typer.Option("--truncation", help="Truncation ψ (1 = none; default: the model's).")] = None,
    skeleton: SkeletonOption = None,
    fps: FpsOption = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = "auto",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Samples generated at once.")] = 64,
    render: Annotated[Optional[str], typer.Option("--render", help="Also draw the samples side by side: .gif or .mp4 (animation), .png (contact sheet).")] = None,
    start_pose: Annotated[Optional[str], typer.Option("--start-pose", help="LARNet: start every sample at a frame of this motion file (default: a real grounded start pose of the action, picked by the seed; the action's mean start pose for a model without anchor poses).")] = None,
    start_frame: Annotated[int, typer.Option("--start-frame", help="Which frame of --start-pose (negative: from the end; CMU BVH frame 0 is a T-pose).")] = 0,
    plant_feet: Annotated[bool, typer.Option("--plant-feet/--no-plant-feet", help="Move the body so that feet on the floor do not slide (the generator's raw root path with --no-plant-feet).")] = True,
    quiet: QuietOption = False,
) -> None:
    """Generate action-conditioned motion from a trained generator (Kinetic-GAN, CSGN or LARNet)."""
    if output is None and render is None:
        raise ConfigError("say where the samples go: -o FILE (.bvh, .npy, .npz or -) and/or --render PICTURE")
    from motiongen.api.sample import sample as sample_motion  # torch loads only for commands that need it
    from motiongen.pretrained import DEFAULT_GENERATOR

    if model is None:
        model = DEFAULT_GENERATOR

    result = sample_motion(model, action, frames=frames, count=count, seed=seed, truncation=truncation,
                           skeleton=skeleton, fps=fps, output=output, device=device, batch_size=batch_size,
                           render=render, start_pose=start_pose, start_frame=start_frame,
                           plant_feet=plant_feet)
    if output != "-":
        for path in result.written + ([result.picture] if result.picture else []):
            stdout.print(str(path), highlight=False)
    if not quiet:
        first = result.motions[0]
        stderr.print(f"{len(result.motions)} × {result.action!r}: {first.frame_count} frames at {first.fps:g} fps "
                     f"on {first.skeleton.name}", highlight=False)
        if result.start_error_mm:
            stderr.print(f"first frame within {max(result.start_error_mm):.1f} mm of the start pose "
                         "(mean over joints, worst sample)", highlight=False)
