"""LARNet start-pose study (issue 5): every held-out window gives its first frame as start pose and
the model makes that window's action from it (64 frames). Prints, as JSON, the first-frame error
(mm, mean over joints), the first step's joint displacement against real clips', and recogniser
accuracy, for the given start poses and for the model's default starts (a real grounded pose of
the action with anchor poses, else the action's mean start pose).

    python benchmarks/larnet_start_pose.py RUN [--data ../shared/data/cmu] [--subjects 08,13,16]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from motiongen.data import Normalization, prepare_dataset
from motiongen.data.features import to_channels_first, to_features
from motiongen.inference.sampling import features_to_motions
from motiongen.metrics.evaluation import load_recognizer
from motiongen.training.checkpoint import load_checkpoint


def mean_step_mm(positions: np.ndarray, first: int, last: int) -> float:
    return float(np.linalg.norm(positions[:, first + 1:last + 1] - positions[:, first:last], axis=-1).mean() * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("--data", default="../shared/data/cmu")
    parser.add_argument("--subjects", default="08,13,16")
    args = parser.parse_args()
    torch.set_num_threads(1)
    checkpoint = load_checkpoint(args.run)
    generator = checkpoint.pair.generator.eval()
    recognizer = load_recognizer(None)
    dataset = prepare_dataset(args.data, skeleton=recognizer.skeleton, frames=recognizer.frames, fps=recognizer.fps,
                              stride=8, holdout_subjects=tuple(args.subjects.split(",")))
    test = dataset.split("test")
    windows = np.asarray(test.windows, dtype=np.float32)  # [N, T, V, 3]
    actions = [dataset.actions[k] for k in test.labels]
    labels = torch.tensor([list(checkpoint.actions).index(a) for a in actions])
    normalization = Normalization.of(checkpoint.normalization)
    starts = torch.as_tensor(to_channels_first(normalization.normalize(to_features(windows[:, :1])))[:, :, 0],
                             dtype=torch.float32)
    frames = windows.shape[1]
    report = {}
    for mode, start in (("given start pose", starts), ("default start pose", None)):
        with torch.no_grad():
            latent = generator.make_latent(list(range(len(windows))), frames)
            features = generator(latent, labels, 1.0, start=start)[:, :, :frames].numpy()
        places = [(float(w[0, 0, 0]), float(w[0, 0, 2])) for w in windows]
        positions = np.stack([features_to_motions(features[k:k + 1], checkpoint, {}, places[k])[0].positions
                              for k in range(len(windows))]).astype(np.float32)
        error = np.linalg.norm(positions[:, 0] - windows[:, 0], axis=-1).mean(-1) * 1000
        _, logits = recognizer.embed(positions)
        report[mode] = {"first_frame_error_mm": float(error.mean()), "first_frame_error_mm_max": float(error.max()),
                        "first_step_mm": mean_step_mm(positions, 0, 1),
                        "accuracy": float((logits.argmax(1) == recognizer.labels_for(actions)).mean())}
    _, logits = recognizer.embed(windows)
    report["real"] = {"first_step_mm": mean_step_mm(windows, 0, 1), "mean_step_mm": mean_step_mm(windows, 0, frames - 1),
                      "accuracy": float((logits.argmax(1) == recognizer.labels_for(actions)).mean()),
                      "windows": len(windows), "actions": {a: actions.count(a) for a in sorted(set(actions))}}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
