"""Average the EMA generators of several snapshots of one run into an inference-only checkpoint
(`motiongen.training.checkpoint.export_average`): the longer moving average after the fact, for a
conditional GAN whose snapshots swing between the actions they render well.

    python tools/average_snapshots.py OUT.safetensors RUN/step-0002000.safetensors RUN/step-0002500.safetensors ...
"""

from __future__ import annotations

import argparse

from motiongen.training.checkpoint import export_average, read_metadata


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output")
    parser.add_argument("snapshots", nargs="+")
    args = parser.parse_args()
    path = export_average(args.snapshots, args.output)
    meta = read_metadata(path)
    steps = ", ".join(str(entry["step"]) for entry in meta["averaged_from"])
    print(f"{path}: {meta['kind']}, steps {steps}, weights SHA-256 {meta['weights_sha256']}")


if __name__ == "__main__":
    main()
