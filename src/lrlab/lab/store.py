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

import contextlib
import csv
import errno
import fcntl
import hashlib
import io
import json
import math
import os
import re
import shutil
import socket
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrlab.errors import LrlabError, ResultsError, TrainError

__all__ = [
    "CHECKPOINT",
    "CSV",
    "JOB",
    "LOCK",
    "METRICS",
    "FolderLock",
    "JobResults",
    "JobStore",
    "ResultsError",
    "RunResults",
    "atomic_write_bytes",
    "atomic_write_text",
    "claim_folder",
    "data_fingerprint",
    "read_job",
    "read_results",
    "result_files",
    "results_from_records",
    "write_records",
]

JOB = "job.json"
METRICS = "metrics.jsonl"
CSV = "metrics.csv"
CHECKPOINT = "checkpoint.pt"
TENSORBOARD = "tensorboard"
#: the lock file of a folder in use (`FolderLock`); it holds the owner's pid and host
LOCK = ".lrlab.lock"
#: every name lrlab writes into a results folder: a job's, a sweep's (`lrlab.sweeps.run`), a range test's, a report's
RESULT_NAMES = frozenset(
    {JOB, METRICS, CSV, CHECKPOINT, TENSORBOARD, "report.md", "report.html"}
    | {"sweep.json", "results.jsonl", "trials", "ray", "find-lr.json", "find-lr.png", "schedule.txt"}
)
#: the temporary files of `atomic_write_bytes` (``.NAME.XXXXXXXX.tmp``) and of the data download (``.part``)
_TEMP = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.(tmp|part)$")
#: the columns of ``metrics.csv`` before the experiment's metrics, and after them
CSV_HEAD = ("run_id", "label", "schedule", "seed", "epoch")
CSV_TAIL = ("lr_first", "lr_last", "diverged", "images", "seconds", "epoch_seconds")


def cannot_write(path: Path, exc: OSError, error: type[LrlabError] = ResultsError) -> LrlabError:
    """The one-line error for a write that failed (a full disk, a read-only folder): the path and the reason."""
    reason = exc.strerror or str(exc)
    code = errno.errorcode.get(exc.errno or 0, "")
    hint = {
        "ENOSPC": "free some space",
        "EDQUOT": "free some space",
        "EROFS": "choose a writable --out folder",
        "EACCES": "choose a writable --out folder",
        "EPERM": "choose a writable --out folder",
    }.get(code, "check the folder")
    return error(f"cannot write {path} ({reason}{f', {code}' if code else ''}); {hint}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and ``os.replace``.

    The old file stays whole until the new one is complete; on any failure the
    temporary file is removed, and an `OSError` (a full disk, a read-only
    folder) becomes a `ResultsError` naming `path`.
    """
    tmp = ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise cannot_write(path, exc) from None
    except BaseException:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise


def clean_temp_files(folder: Path) -> list[str]:
    """Remove the temporary files a killed writer left in `folder` (call it holding the folder's lock)."""
    removed: list[str] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if _TEMP.match(entry.name) and entry.is_file():
            with contextlib.suppress(OSError):
                entry.unlink()
                removed.append(entry.name)
    return removed


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


def _lines(path: Path) -> list[tuple[int, str | None]]:
    """The lines of `path` with their numbers (from 1); a line that is not UTF-8 is None."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ResultsError(f"cannot read {path} ({exc.strerror or exc})") from None
    out: list[tuple[int, str | None]] = []
    for number, line in enumerate(raw.split(b"\n"), 1):
        try:
            out.append((number, line.decode("utf-8")))
        except UnicodeDecodeError:
            out.append((number, None))
    while out and out[-1][1] == "":
        out.pop()
    return out


def read_job(path: str | Path, *, fields: Sequence[str] = ()) -> dict[str, Any]:
    """``job.json`` (or another JSON object file) as a dict; anything else is a `ResultsError` naming file and line.

    `fields` are the keys it must have (a resume needs ``job_id`` and ``identity``).
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ResultsError(f"{path}:{line}: not UTF-8 text (byte {exc.start}); lrlab did not write this file") from None
    except OSError as exc:
        raise ResultsError(f"cannot read {path} ({exc.strerror or exc})") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise ResultsError(f"{path}: must hold a JSON object; got a {type(value).__name__}")
    for key in fields:
        if key not in value:
            raise ResultsError(f"{path}: the field {key!r} is missing; lrlab did not write this file")
    if "identity" in fields and not isinstance(value["identity"], dict):
        raise ResultsError(f"{path}: the field 'identity' must be an object; got {value['identity']!r}")
    return value


def read_results(folder: str | Path) -> JobResults:
    """Read ``job.json`` (if any) and ``metrics.jsonl`` of a job folder.

    A torn last line (a job killed while appending) is ignored with a warning;
    any other line that is not a record is a `ResultsError` naming the file and line.
    """
    folder = Path(folder)
    metrics = folder / METRICS
    if not folder.is_dir():
        raise ResultsError(f"results folder {str(folder)!r} does not exist")
    if not metrics.is_file():
        raise ResultsError(f"{folder} has no {METRICS}; give the --out folder of an lrlab train or compare job")
    job: dict[str, Any] = read_job(folder / JOB) if (folder / JOB).is_file() else {}
    records: list[tuple[int, dict[str, Any]]] = []
    lines = _lines(metrics)
    for number, line in lines:
        if line is not None and not line.strip():
            continue
        try:
            if line is None:
                raise ValueError("not UTF-8 text")
            rec = json.loads(line)
        except ValueError as exc:
            if number == lines[-1][0]:
                warnings.warn(
                    f"{metrics}:{number}: the last line is cut short (a job stopped while writing it); ignored",
                    ResultsWarning,
                    stacklevel=2,
                )
                break
            what = "not UTF-8 text" if line is None else f"not valid JSON ({getattr(exc, 'msg', exc)})"
            raise ResultsError(f"{metrics}:{number}: {what}") from None
        records.append((number, rec))
    return _results(records, job, folder, str(metrics))


class ResultsWarning(UserWarning):
    """A results file had a flaw lrlab could read past (a torn last line)."""


#: the keys each kind of record must have
_NEEDS = {"run": ("run_id",), "epoch": ("run_id", "epoch"), "diverged": ("run_id", "epoch"), "end": ()}


def results_from_records(
    records: Iterable[Mapping[str, Any]], job: Mapping[str, Any], folder: Path | None = None, *, where: str = "records"
) -> JobResults:
    """`JobResults` from the records of ``metrics.jsonl`` (read from a file or kept in memory by the trainer)."""
    return _results(list(enumerate(records, 1)), job, folder, where)


def _results(records: Sequence[tuple[int, Any]], job: Mapping[str, Any], folder: Path | None, where: str) -> JobResults:
    runs: dict[str, RunResults] = {}
    complete = False
    for number, rec in records:
        if not isinstance(rec, Mapping):
            raise ResultsError(f"{where}:{number}: not a record (a JSON object); got {rec!r:.60}")
        kind = rec.get("type")
        missing = [key for key in _NEEDS.get(str(kind), ()) if key not in rec]
        if missing:
            raise ResultsError(f"{where}:{number}: a {kind!r} record without {missing[0]!r}")
        if kind == "run":
            runs[str(rec["run_id"])] = RunResults(dict(rec))
        elif kind == "epoch":
            _owner(runs, rec, where, number).epochs.append(dict(rec))
        elif kind == "diverged":
            try:
                epoch = int(rec["epoch"])
            except (TypeError, ValueError):
                raise ResultsError(f"{where}:{number}: epoch must be a whole number; got {rec['epoch']!r}") from None
            _owner(runs, rec, where, number).diverged_epoch = epoch
        elif kind == "end":
            complete = True
    if not runs:
        raise ResultsError(f"{where} holds no runs")
    return JobResults(folder, dict(job), list(runs.values()), complete)


def _owner(runs: dict[str, RunResults], rec: Mapping[str, Any], where: str, number: int) -> RunResults:
    try:
        return runs[str(rec["run_id"])]
    except KeyError:
        raise ResultsError(f"{where}:{number} names run {rec.get('run_id')!r}, which has no 'run' record") from None


# -- the folder: what it holds, who holds it ----------------------------------------------------------------
def _say(text: str) -> None:
    print(f"lrlab: {text}", file=sys.stderr, flush=True)


def result_files(folder: str | Path) -> list[str]:
    """The names in `folder` that lrlab writes (a job's, a sweep's, a range test's, a report's), sorted."""
    folder = Path(folder)
    try:
        names = [entry.name for entry in folder.iterdir()]
    except OSError:
        return []
    return sorted(n for n in names if n in RESULT_NAMES or (n.startswith("report-") and n.endswith(".png")))


def claim_folder(
    folder: str | Path,
    *,
    marker: str,
    resume: bool,
    overwrite: bool,
    error: type[LrlabError] = TrainError,
) -> bool:
    """May this job write into `folder`? True when it resumes what is there (its `marker` file exists).

    A folder holding lrlab results of any kind is refused, naming them, unless
    `resume` and it holds this kind (`marker`: ``job.json``, ``sweep.json``) or
    `overwrite`, which removes them first (nothing else in the folder). A path
    that is a file is refused. Call it holding the folder's `FolderLock`.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise error(f"--out {str(folder)!r} is a file, not a folder; give a folder path")
    found = result_files(folder)
    if not found:
        return False
    if overwrite:
        for name in found:
            path = folder / name
            try:
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
            except OSError as exc:
                raise cannot_write(path, exc, error) from None
        _say(f"--overwrite: removed the earlier results in {folder} ({', '.join(found)})")
        return False
    if resume and marker in found:
        return True
    shown = ", ".join(found[:5]) + (", ..." if len(found) > 5 else "")
    if marker in found:
        job_id = "?"
        with contextlib.suppress(ResultsError):
            job_id = str(read_job(folder / marker).get("job_id", "?"))
        what = f"the results of job {job_id} ({shown})" if marker == JOB else f"lrlab results ({shown})"
        how = "pass --resume to continue it or --overwrite to replace it (resume=True, overwrite=True in Python)"
    else:
        what = f"lrlab results ({shown})"
        how = "pass --overwrite (overwrite=True in Python) to replace them"
    raise error(f"{folder} already holds {what}; {how}, or choose another --out folder")


class FolderLock:
    """An exclusive lock on a results folder for the life of a job or sweep.

    ``fcntl.flock`` on ``.lrlab.lock`` in the folder, which holds the owner's
    pid and host. The kernel drops the lock when its process dies, so a lock
    file left by a dead process is taken over (with a message); one held by a
    live process is a clear error naming it. `acquire` also removes the
    temporary files a killed writer left behind.
    """

    def __init__(self, folder: str | Path, *, error: type[LrlabError] = TrainError) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK
        self.error = error
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock (creating the folder), or raise naming the pid and host that hold it."""
        if self._fd is not None:
            return
        if self.folder.exists() and not self.folder.is_dir():
            raise self.error(f"--out {str(self.folder)!r} is a file, not a folder; give a folder path")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            while True:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    owner = _owner_text(fd)
                    os.close(fd)
                    raise self.error(
                        f"{self.folder} is in use by another lrlab job ({owner}); wait for it to end, "
                        "or choose another --out folder"
                    ) from None
                try:
                    same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    same = False
                if same:  # else the holder removed the file as we opened it: lock the one there now
                    break
                os.close(fd)
            previous = _owner_text(fd)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on host {socket.gethostname()}\n".encode(), 0)
        except OSError as exc:
            raise cannot_write(self.path, exc, self.error) from None
        self._fd = fd
        if previous:
            _say(f"{self.folder}: taking over the lock of {previous}, which has ended")
        clean_temp_files(self.folder)

    def release(self) -> None:
        """Drop the lock and remove the lock file."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None

    def __del__(self) -> None:  # a lock object dropped on an error path: the lock goes with it
        with contextlib.suppress(Exception):
            self.release()

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _owner_text(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or ""


# -- the data a job trains on ---------------------------------------------------------------------------------
def data_fingerprint(data: Any) -> str:
    """A short hash of an experiment's data (``Data.train`` and ``.test``): what a resume must find again.

    For each tensor or array: its shape, dtype, the float64 sum of its values
    and a strided sample of at most 65,536 of them -- cheap (one pass) yet it
    changes when the files under the same path change. Other data forms (a
    ``Dataset``) count by type and length.
    """
    digest = hashlib.blake2b(digest_size=8)
    for part in (getattr(data, "train", None), getattr(data, "test", None)):
        _feed(digest, part)
    return digest.hexdigest()


def _feed(digest: Any, value: Any) -> None:
    if value is None:
        digest.update(b"none;")
    elif isinstance(value, tuple | list):
        digest.update(f"({len(value)};".encode())
        for item in value:
            _feed(digest, item)
    elif hasattr(value, "detach") and hasattr(value, "shape"):  # a torch tensor
        import torch

        flat = value.detach().reshape(-1)
        sample = flat[:: max(1, flat.numel() // 65536)].to("cpu", torch.float64)
        total = float(flat.sum(dtype=torch.float64)) if flat.numel() else 0.0
        digest.update(f"{tuple(value.shape)}{value.dtype}{total!r};".encode())
        digest.update(sample.numpy().tobytes())
    elif hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "tobytes"):  # a NumPy array
        import numpy as np

        flat = np.asarray(value).reshape(-1)
        total = float(flat.sum(dtype=np.float64)) if flat.size else 0.0
        digest.update(f"{tuple(value.shape)}{value.dtype}{total!r};".encode())
        digest.update(flat[:: max(1, flat.size // 65536)].astype(np.float64).tobytes())
    else:
        size = len(value) if hasattr(value, "__len__") else "?"
        digest.update(f"{type(value).__module__}.{type(value).__qualname__}:{size};".encode())


# -- writing a job ------------------------------------------------------------------------------------------
def canonical(value: Any) -> str:
    """The JSON text two identities are compared by (sorted keys)."""
    return json.dumps(value, sort_keys=True)


class JobStore:
    """A job's folder, claimed for one job: lock, identity check, records, the CSV table and checkpoints.

    `open` locks the folder (`FolderLock`) and refuses one holding lrlab results
    (`claim_folder`) unless ``resume`` -- then the stored job must have the same
    identity, else the refusal names the first field that differs -- or
    ``overwrite``; `start` begins the records; `append` adds an epoch's;
    `save_checkpoint`/`load_checkpoint` keep what a resume needs; `close` ends
    the writes and drops the lock. Nothing is written before `open` has
    accepted the folder, and every failed write is one `ResultsError` naming the file.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._metrics: Any = None
        self._csv: Any = None
        self._columns: list[str] = []
        self._labels: dict[str, tuple[str, str, int]] = {}
        self._lock = FolderLock(self.folder)

    # -- the folder -----------------------------------------------------------------------------------------
    def open(
        self, identity: Mapping[str, Any], record: dict[str, Any], *, resume: bool, overwrite: bool = False
    ) -> dict[str, Any]:
        """Claim the folder for the job `identity`; returns ``job.json`` as written (the stored one on resume)."""
        job_file = self.folder / JOB
        self._lock.acquire()
        try:
            if claim_folder(self.folder, marker=JOB, resume=resume, overwrite=overwrite):
                stored = read_job(job_file, fields=("job_id", "identity"))
                theirs = stored["identity"]
                if isinstance(theirs, Mapping) and "data_fingerprint" not in theirs:
                    # a job from before data fingerprints: its data are checked by their description alone
                    identity = {k: v for k, v in identity.items() if k != "data_fingerprint"}
                if canonical(theirs) != canonical(identity):
                    raise TrainError(
                        f"{self.folder} holds a different job ({_difference(theirs, identity)}); "
                        "resume it with the same options, or choose another --out folder"
                    )
                return stored
            atomic_write_text(job_file, json.dumps(record) + "\n")  # insertion order: read back, it prints the same
        except BaseException:
            self._lock.release()
            raise
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
        self.close_files()
        try:
            self._metrics = (self.folder / METRICS).open("a")
            self._csv = (self.folder / CSV).open("a", newline="")
        except OSError as exc:
            raise cannot_write(self.folder / METRICS, exc) from None

    def append(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Add records at the end of ``metrics.jsonl`` (and their epoch rows to ``metrics.csv``), flushed."""
        if self._metrics is None:
            return
        for handle, text in (
            (self._metrics, "".join(dumps(r) + "\n" for r in records)),
            (self._csv, self._csv_text(records, header=False)),
        ):
            try:
                handle.write(text)
                handle.flush()
            except OSError as exc:  # a torn last line: read_results skips it, a resume rewrites the file
                raise cannot_write(Path(handle.name), exc) from None

    def ended(self) -> bool:
        """Whether the last record is the job's end record."""
        tail = (self.folder / METRICS).read_text().rstrip().rsplit("\n", 1)[-1]
        return '"type": "end"' in tail

    def close_files(self) -> None:
        for handle in (self._metrics, self._csv):
            if handle is not None:
                with contextlib.suppress(OSError):
                    handle.close()
        self._metrics = self._csv = None

    def close(self) -> None:
        """End the writes and drop the folder's lock."""
        self.close_files()
        self._lock.release()

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
        if not isinstance(state, dict):
            raise TrainError(f"{path} holds a {type(state).__name__}, not an lrlab checkpoint; choose another --out")
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
        if key == "data_fingerprint" and theirs.get(key) != mine[key]:
            return (
                f"its data differ: data_fingerprint {theirs.get(key)!r}, this one's {mine[key]!r}; "
                "the files under --data changed or another --data was given"
            )
        if key != "config" and theirs.get(key) != mine[key]:
            return f"its {key} is {theirs.get(key)!r}, this one's {mine[key]!r}"
    return "its identity differs"


def now() -> str:
    """The time stamp in ``job.json``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
