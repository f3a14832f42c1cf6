"""The result store: the folder format of a training job, in one place. No torch at import.

The trainer writes through `JobStore`; sweeps, reports and `lrlab.load` read
with `read_results`. A job folder holds:

* ``job.json`` - the job: its id, its identity (experiment, training options,
  runs, data) that a resume must match, the lrlab and torch versions;
* ``metrics.jsonl`` - one JSON object a line, appended as training goes:
  ``{"type": "run", ...}`` once per run (its whole config, versions and run id),
  ``{"type": "epoch", "run_id", "epoch", "train_loss", "train_acc", "test_acc",
  "lr_first", "lr_last", "seconds", ...}`` after each epoch (``epoch`` counts
  epochs done, from 1), ``{"type": "diverged", "run_id", "epoch", "loss"}``
  when a run's loss stops being finite, and ``{"type": "end", ...}`` when the
  job is complete;
* ``metrics.csv`` - the epoch records as a table, one row per run and epoch;
* ``checkpoint.pt`` - what `--resume` needs (torch's format, read back with
  ``weights_only=True``);
* ``tensorboard/<run>/`` - TensorBoard event files, when tensorboard is installed;
* after the job, ``report.md``, ``report.html`` and their PNG files.

Every file is replaced atomically (a temporary file and ``os.replace``) or
appended line by line, so a job killed at any moment leaves a folder that
`read_results` reads and ``--resume`` continues.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrlab.errors import ResultsError, TrainError

__all__ = [
    "CHECKPOINT",
    "CSV",
    "JOB",
    "METRICS",
    "JobResults",
    "JobStore",
    "ResultsError",
    "RunResults",
    "atomic_write_bytes",
    "atomic_write_text",
    "read_results",
    "results_from_records",
    "write_records",
]

JOB = "job.json"
METRICS = "metrics.jsonl"
CSV = "metrics.csv"
CHECKPOINT = "checkpoint.pt"
TENSORBOARD = "tensorboard"
#: the columns of ``metrics.csv`` before the experiment's metrics, and after them
CSV_HEAD = ("run_id", "label", "schedule", "seed", "epoch")
CSV_TAIL = ("lr_first", "lr_last", "diverged", "images", "seconds", "epoch_seconds")


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
    """A job's runs and their epoch records; ``folder`` is None for a job kept in memory."""

    folder: Path | None
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
    records = []
    lines = metrics.read_text().splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                break  # torn last line
            raise ResultsError(f"{metrics}:{number} is not valid JSON") from None
    return results_from_records(records, job, folder, where=str(metrics))


def results_from_records(
    records: Iterable[Mapping[str, Any]], job: Mapping[str, Any], folder: Path | None = None, *, where: str = "records"
) -> JobResults:
    """`JobResults` from the records of ``metrics.jsonl`` (read from a file or kept in memory by the trainer)."""
    runs: dict[str, RunResults] = {}
    complete = False
    for number, rec in enumerate(records, 1):
        kind = rec.get("type")
        if kind == "run":
            runs[rec["run_id"]] = RunResults(dict(rec))
        elif kind == "epoch":
            _owner(runs, rec, where, number).epochs.append(dict(rec))
        elif kind == "diverged":
            _owner(runs, rec, where, number).diverged_epoch = int(rec["epoch"])
        elif kind == "end":
            complete = True
    if not runs:
        raise ResultsError(f"{where} holds no runs")
    return JobResults(folder, dict(job), list(runs.values()), complete)


def _owner(runs: dict[str, RunResults], rec: Mapping[str, Any], where: str, number: int) -> RunResults:
    try:
        return runs[rec["run_id"]]
    except KeyError:
        raise ResultsError(f"{where}:{number} names run {rec.get('run_id')!r}, which has no 'run' record") from None


# -- writing a job ------------------------------------------------------------------------------------------
def canonical(value: Any) -> str:
    """The JSON text two identities are compared by (sorted keys)."""
    return json.dumps(value, sort_keys=True)


class JobStore:
    """A job's folder, claimed for one job: identity check, records, the CSV table and checkpoints.

    `open` refuses a folder holding another job (naming the first field that
    differs) and a finished or started job unless ``resume``; `start` begins the
    records; `append` adds an epoch's; `save_checkpoint`/`load_checkpoint` keep
    what a resume needs. Nothing is written before `open` has accepted the folder.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._metrics: Any = None
        self._csv: Any = None
        self._columns: list[str] = []
        self._labels: dict[str, tuple[str, str, int]] = {}

    # -- the folder -----------------------------------------------------------------------------------------
    def open(self, identity: Mapping[str, Any], record: dict[str, Any], *, resume: bool) -> dict[str, Any]:
        """Claim the folder for the job `identity`; returns ``job.json`` as written (the stored one on resume)."""
        job_file = self.folder / JOB
        if job_file.is_file():
            try:
                stored = json.loads(job_file.read_text())
            except json.JSONDecodeError:
                stored = {}
            if not resume:
                raise TrainError(
                    f"{self.folder} already holds the results of job {stored.get('job_id', '?')}; "
                    "pass --resume to continue it, or choose another --out folder"
                )
            theirs = stored.get("identity") or {}
            if canonical(theirs) != canonical(identity):
                raise TrainError(
                    f"{self.folder} holds a different job ({_difference(theirs, identity)}); "
                    "resume it with the same options, or choose another --out folder"
                )
            record = {**record, "job_id": stored["job_id"], "created": stored.get("created", record.get("created"))}
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(job_file, json.dumps(record) + "\n")  # insertion order: read back, it prints the same
        return record

    def has_checkpoint(self) -> bool:
        return (self.folder / CHECKPOINT).is_file()

    # -- records ------------------------------------------------------------------------------------------------
    def start(self, records: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
        """Replace the records (and the CSV table) with `records`; `columns` are the epoch records' metrics."""
        self._columns = [*CSV_HEAD, *columns, *CSV_TAIL]
        self._labels = {
            str(r["run_id"]): (str(r.get("label", "")), str(r.get("schedule", "")), int(r.get("seed", 0)))
            for r in records
            if r.get("type") == "run"
        }
        write_records(self.folder / METRICS, records)
        atomic_write_text(self.folder / CSV, self._csv_text(records, header=True))
        self._metrics = (self.folder / METRICS).open("a")
        self._csv = (self.folder / CSV).open("a", newline="")

    def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Add records at the end of ``metrics.jsonl`` (and their epoch rows to ``metrics.csv``), flushed."""
        if self._metrics is None:
            return
        self._metrics.write("".join(dumps(r) + "\n" for r in records))
        self._metrics.flush()
        self._csv.write(self._csv_text(records, header=False))
        self._csv.flush()

    def ended(self) -> bool:
        """Whether the last record is the job's end record."""
        tail = (self.folder / METRICS).read_text().rstrip().rsplit("\n", 1)[-1]
        return '"type": "end"' in tail

    def close(self) -> None:
        for handle in (self._metrics, self._csv):
            if handle is not None:
                handle.close()
        self._metrics = self._csv = None

    def _csv_text(self, records: Iterable[Mapping[str, Any]], *, header: bool) -> str:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self._columns, extrasaction="ignore", lineterminator="\n")
        if header:
            writer.writeheader()
        for rec in records:
            if rec.get("type") != "epoch":
                continue
            label, schedule, seed = self._labels.get(str(rec["run_id"]), ("", "", 0))
            row = {"label": label, "schedule": schedule, "seed": seed, **rec}
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
        return buffer.getvalue()

    # -- checkpoints --------------------------------------------------------------------------------------------
    def save_checkpoint(self, state: Mapping[str, Any]) -> None:
        """Write `state` (tensors and plain data) with ``torch.save``, atomically."""
        import torch

        buffer = io.BytesIO()
        torch.save(dict(state), buffer)
        atomic_write_bytes(self.folder / CHECKPOINT, buffer.getvalue())

    def load_checkpoint(self) -> dict[str, Any]:
        """The saved state, read with ``weights_only=True`` (no code runs); a damaged file is a `TrainError`."""
        import torch

        path = self.folder / CHECKPOINT
        try:
            state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise TrainError(
                f"{path} cannot be read ({type(exc).__name__}: {exc}); delete the folder to start again"
            ) from None
        return state

    def remove_checkpoint(self) -> None:
        (self.folder / CHECKPOINT).unlink(missing_ok=True)


def _difference(theirs: Mapping[str, Any], mine: Mapping[str, Any]) -> str:
    """The first field where two job identities differ, for the refusal message."""
    tc, mc = theirs.get("config") or {}, mine.get("config") or {}
    for key in mc:
        if tc.get(key) != mc[key]:
            return f"it has {key}={tc.get(key)!r}, this one {key}={mc[key]!r}"
    for key in mine:
        if key != "config" and theirs.get(key) != mine[key]:
            return f"its {key} is {theirs.get(key)!r}, this one's {mine[key]!r}"
    return "its identity differs"


def now() -> str:
    """The time stamp in ``job.json``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
