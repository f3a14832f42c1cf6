"""Result files of a training job, written by `lrlab.lab.train` and read by `lrlab.reports.job`. No torch here.

A job folder holds:

* ``job.json`` - the job: its id, the runs (label, schedule spec, seed, run id),
  the training options, the data, the lrlab and torch versions;
* ``metrics.jsonl`` - one JSON object a line, appended as training goes:
  ``{"type": "run", ...}`` once per run (its whole config, versions and run id),
  ``{"type": "epoch", "run_id", "epoch", "train_loss", "train_acc", "test_acc",
  "lr_first", "lr_last", "seconds", ...}`` after each epoch (``epoch`` counts
  epochs done, from 1), ``{"type": "diverged", "run_id", "epoch", "loss"}``
  when a run's loss stops being finite, and ``{"type": "end", ...}`` when the
  job is complete;
* ``checkpoint.pt`` - what `--resume` needs (torch's format);
* after the job, ``report.md``, ``report.html`` and their PNG files.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrlab.errors import ResultsError

__all__ = [
    "CHECKPOINT",
    "JOB",
    "METRICS",
    "JobResults",
    "ResultsError",
    "RunResults",
    "atomic_write_bytes",
    "atomic_write_text",
    "read_results",
    "write_records",
]

JOB = "job.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.pt"




def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def dumps(record: Mapping[str, Any]) -> str:
    """One JSON line; non-finite floats become null (strict JSON)."""
    return json.dumps(_finite(record), allow_nan=False, sort_keys=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_records(path: Path, records: Iterable[Mapping[str, Any]]) -> None:
    """Replace `path` atomically with these records, one a line."""
    atomic_write_text(path, "".join(dumps(r) + "\n" for r in records))


@dataclass
class RunResults:
    """One run's config (its ``run`` record) and its epoch records, in order."""

    config: dict[str, Any]
    epochs: list[dict[str, Any]] = field(default_factory=list)
    diverged_epoch: int | None = None

    @property
    def run_id(self) -> str:
        return str(self.config["run_id"])

    @property
    def label(self) -> str:
        return str(self.config.get("label") or self.config["schedule"])

    @property
    def seed(self) -> int:
        return int(self.config.get("seed", 0))

    def series(self, key: str) -> list[float]:
        """One value per recorded epoch (NaN where the record has none)."""
        out = []
        for rec in self.epochs:
            value = rec.get(key)
            out.append(float(value) if isinstance(value, int | float) else math.nan)
        return out

    @property
    def final(self) -> dict[str, Any] | None:
        """The last epoch's record, or None before the first epoch ends."""
        return self.epochs[-1] if self.epochs else None


@dataclass
class JobResults:
    folder: Path
    job: dict[str, Any]
    runs: list[RunResults]
    complete: bool

    def by_label(self) -> dict[str, list[RunResults]]:
        """Runs grouped by label, in the job's order."""
        groups: dict[str, list[RunResults]] = {}
        for run in self.runs:
            groups.setdefault(run.label, []).append(run)
        return groups


def read_results(folder: str | Path) -> JobResults:
    """Read ``job.json`` (if any) and ``metrics.jsonl`` of a job folder.

    A torn last line (a job killed while writing) is ignored.
    """
    folder = Path(folder)
    metrics = folder / METRICS
    if not folder.is_dir():
        raise ResultsError(f"results folder {str(folder)!r} does not exist")
    if not metrics.is_file():
        raise ResultsError(f"{folder} has no {METRICS}; give the --out folder of an lrlab train or compare job")
    job: dict[str, Any] = {}
    if (folder / JOB).is_file():
        try:
            job = json.loads((folder / JOB).read_text())
        except json.JSONDecodeError as exc:
            raise ResultsError(f"{folder / JOB} is not valid JSON ({exc})") from None
    runs: dict[str, RunResults] = {}
    complete = False
    lines = metrics.read_text().splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                break  # torn last line
            raise ResultsError(f"{metrics}:{number} is not valid JSON") from None
        kind = rec.get("type")
        if kind == "run":
            runs[rec["run_id"]] = RunResults(rec)
        elif kind == "epoch":
            _owner(runs, rec, metrics, number).epochs.append(rec)
        elif kind == "diverged":
            _owner(runs, rec, metrics, number).diverged_epoch = int(rec["epoch"])
        elif kind == "end":
            complete = True
    if not runs:
        raise ResultsError(f"{metrics} holds no runs")
    return JobResults(folder, job, list(runs.values()), complete)


def _owner(runs: dict[str, RunResults], rec: dict[str, Any], path: Path, number: int) -> RunResults:
    try:
        return runs[rec["run_id"]]
    except KeyError:
        raise ResultsError(f"{path}:{number} names run {rec.get('run_id')!r}, which has no 'run' record") from None
