"""The training log: ``log.jsonl``, one JSON object per log step, plus loss averaging.

Each line: ``step`` (generator steps done), ``time_s`` (training seconds since the run began,
summed over resumed sessions), ``steps_per_s`` (over the last interval), ``timestamp`` (UTC,
ISO 8601) and every loss averaged over the steps since the previous line (``critic_loss``,
``wasserstein_gap``, ``gradient_penalty``, ``critic_real``, ``critic_fake``, ``generator_loss``).
Losses accumulate as device tensors and are read back only at log steps (no host sync per step).
"""

from __future__ import annotations

import datetime as _datetime
import json
import math
from pathlib import Path

import torch

from motiongen.errors import FormatError
from motiongen.formats._io import atomic_write


class LossMeter:
    """Running sums of detached scalar tensors, read back (one sync) by `averages`."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, values: dict[str, torch.Tensor]) -> None:
        for key, value in values.items():
            value = value.detach().float()
            self.sums[key] = self.sums[key] + value if key in self.sums else value.clone()
            self.counts[key] = self.counts.get(key, 0) + 1

    def averages(self) -> dict[str, float]:
        if not self.sums:
            return {}
        keys = list(self.sums)
        stacked = torch.stack([self.sums[k] for k in keys]).cpu().tolist()
        return {k: total / self.counts[k] for k, total in zip(keys, stacked)}

    def reset(self) -> None:
        self.sums.clear()
        self.counts.clear()

    def state_dict(self) -> dict:
        return {"sums": {k: v.detach().cpu() for k, v in self.sums.items()}, "counts": dict(self.counts)}

    def load_state_dict(self, state: dict, device: torch.device) -> None:
        self.sums = {k: v.to(device) for k, v in state.get("sums", {}).items()}
        self.counts = {k: int(v) for k, v in state.get("counts", {}).items()}


class JsonlLog:
    """Append-only JSONL log (written by rank 0 only)."""

    def __init__(self, path: Path, enabled: bool = True):
        self.path = Path(path)
        self.enabled = enabled

    def truncate_after(self, step: int) -> None:
        """Drop lines logged after ``step`` (a run killed after its last checkpoint wrote them;
        the resumed run logs those steps again)."""
        if not self.enabled or not self.path.is_file():
            return
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                if json.loads(line).get("step", 0) <= step:
                    kept.append(line)
            except json.JSONDecodeError:
                continue  # a half-written last line from a hard kill
        with atomic_write(self.path) as stream:
            stream.write("".join(line + "\n" for line in kept))

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        record = {"timestamp": _datetime.datetime.now(_datetime.timezone.utc).isoformat(timespec="seconds"), **record}
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        with self.path.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps(clean) + "\n")


def read_log(path: str | Path) -> list[dict]:
    """Every record of a ``log.jsonl``; a line that is not a JSON object is a FormatError naming
    its line, except an unfinished last line (no newline yet: the log of a running or killed run
    being appended to), which is left out."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(path, f"cannot read the training log ({exc.__class__.__name__})") from None
    lines = text.split("\n")
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):  # unfinished: no newline after it yet
                break
            raise FormatError(path, f"not a JSON record ({exc.msg})", line=number) from None
        if not isinstance(record, dict):
            raise FormatError(path, f"not a JSON object but {type(record).__name__}", line=number)
        records.append(record)
    return records
