"""Benchmark 2, the chapter's whole job: ``lrlab compare --preset chapter`` against the book loop's time for it.

The job is the preset's schedules x 30 epochs, test accuracy after every epoch. By default (``make bench``)
``lrlab compare`` runs a shortened job (``--epochs 2``) and its time is PROJECTED to 30 epochs:
  projected = fixed + 30 x (training seconds / 2)
where the training seconds come from the job's own ``metrics.jsonl`` (its ``end`` record) and
fixed = wall time of the command - training seconds (start-up, data, checkpoints, report). Two epochs, not
one: the workers start the next epoch's first runs while the last ones of an epoch end, so one epoch of
five runs on two workers would end unevenly (three runs on one worker, two on the other) where every
later epoch does not; the two epochs' ten run-epochs split evenly. (Epoch by epoch the records alternate,
a long epoch and a short one, so no single epoch is the steady state: the mean is.)
``--full`` runs all 30 epochs once instead (tens of minutes on 2 cores).
The book loop's time for the same work = schedules x 30 x 60,000 images / its measured images/s
(one epoch of the book loop per round, each in a fresh process, interleaved with the compare runs).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import variant

NAME = "chapter"
PRESET = "chapter"
EPOCHS = 30
TARGET_MIN = 5.0


def lrlab_command() -> list[str]:
    """The ``lrlab`` console script of this interpreter's environment, or ``python -m lrlab``."""
    exe = Path(sys.executable).with_name("lrlab")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "lrlab"]


def compare_help() -> str | None:
    """``lrlab compare --help`` text, or None when there is no such command."""
    try:
        proc = subprocess.run(
            [*lrlab_command(), "compare", "--help"], capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def preset_size(name: str = PRESET) -> int | None:
    """Number of runs in the training preset `name`, or None when lrlab does not have it."""
    try:
        from lrlab.lab.presets import load_preset

        return len(load_preset(name).runs)
    except Exception:
        return None


def compare_args(epochs: int, out: Path, help_text: str, data: Path | None, no_report: bool) -> list[str]:
    """Arguments of ``lrlab compare`` for `epochs` epochs into `out` (`data`: a data folder, for smoke runs)."""
    args = ["compare", "--preset", PRESET]
    if epochs != EPOCHS:
        args += ["--epochs", str(epochs)]
    for flag, value in (("--out", str(out)), ("--data", data), ("--quiet", True), ("--no-report", no_report)):
        if value and flag in help_text:
            args += [flag] if value is True else [flag, str(value)]
    return args


def job_seconds(out: Path) -> tuple[float | None, int | None]:
    """Training seconds and epochs from the ``end`` record of the job's ``metrics.jsonl`` under `out`."""
    for path in sorted(out.rglob("metrics.jsonl")):
        for line in reversed(path.read_text().splitlines()):
            rec = json.loads(line)
            if rec.get("type") == "end":
                return float(rec["seconds"]), int(rec["epochs"])
    return None, None


def run_compare(epochs: int, help_text: str, smoke_data: Path | None, no_report: bool) -> dict[str, Any]:
    """Time one ``lrlab compare`` (in this process for smoke runs, else a fresh one)."""
    out = Path(tempfile.mkdtemp(prefix="lrlab-bench-compare-"))
    args = compare_args(epochs, out / "job", help_text, smoke_data, no_report)
    try:
        t0 = time.perf_counter()
        if smoke_data is not None:
            from lrlab.cli import main as cli_main

            err = io.StringIO()
            try:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                    rc = cli_main(args)
                tail = err.getvalue()[-1500:]
            except Exception as exc:  # a module of the command is still missing
                rc, tail = 1, f"{type(exc).__name__}: {exc}"
        else:
            with common.OthersMeter() as others:
                proc = subprocess.run([*lrlab_command(), *args], capture_output=True, text=True, cwd=out, check=False)
            rc, tail = proc.returncode, (proc.stderr or proc.stdout)[-1500:]
        wall = time.perf_counter() - t0
        train_s, done = job_seconds(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    if rc != 0:
        return {"ok": False, "error": f"lrlab {' '.join(args)}: exit {rc}: {tail.strip()}"}
    res: dict[str, Any] = {"ok": True, "epochs": epochs, "wall_s": wall, "train_s": train_s}
    if smoke_data is None:
        res["others_cores"] = others.cores
    if train_s is not None and done:
        fixed = max(wall - train_s, 0.0)
        res.update(
            fixed_s=fixed,
            per_epoch_s=train_s / done,
            projected_s=fixed + EPOCHS * train_s / done,
            projection=f"fixed + 30 x training seconds per epoch (the mean of {done}, from metrics.jsonl)",
        )
    else:
        res.update(projected_s=wall * EPOCHS / epochs, projection="wall x 30 / epochs (upper bound: start-up x 30)")
    return res


def run_book(smoke: bool) -> dict[str, Any]:
    """One epoch of the book loop (fresh process; in this process for smoke runs)."""
    if smoke:
        return variant.run_variant("book", smoke=True)
    return common.run_child(["book"])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the rounds, print the figures and ratio lines, save ``out/bench/chapter.json``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2, help="epochs of the shortened job (projected to 30)")
    p.add_argument("--full", action="store_true", help="run all 30 epochs (once), no projection")
    p.add_argument("--no-report", action="store_true", help="pass --no-report to lrlab compare (job without report)")
    p.add_argument(
        "--smoke", action="store_true", help="tiny synthetic data set, in this process, no report (for the tests)"
    )
    p.add_argument("--out-dir", type=Path, default=None)
    a = p.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    if not a.smoke and (warn := common.busy_warning()) is not None:
        print(warn, flush=True)
    epochs = EPOCHS if a.full else a.epochs
    rounds = 1 if (a.full or a.smoke) else a.rounds
    help_text = compare_help()
    n_sched = preset_size()
    smoke_data = None
    if a.smoke:
        smoke_data = common.write_fashion_mnist(
            Path(tempfile.mkdtemp(prefix="lrlab-bench-data-")), common.synthetic_arrays()
        )
    missing = None
    if help_text is None:
        missing = "`lrlab compare` is not available yet"
    elif n_sched is None:
        missing = f"the training preset {PRESET!r} is not available yet"
    elif epochs != EPOCHS and "--epochs" not in help_text:
        missing = "`lrlab compare` has no --epochs option to shorten the job (use --full)"

    books: list[dict[str, Any]] = []
    compares: list[dict[str, Any]] = []
    for r in range(rounds):
        for job in common.rotated(["book", "compare"], r):
            if job == "book":
                books.append(run_book(a.smoke))
            elif missing is None:
                compares.append(run_compare(epochs, help_text or "", smoke_data, a.no_report or a.smoke))
            print(f"  round {r + 1}/{rounds}  {job} done", flush=True)
    if smoke_data is not None:
        shutil.rmtree(smoke_data, ignore_errors=True)

    n_runs = n_sched or 5
    work = f"{n_runs} schedules x {EPOCHS} epochs x (60k train + 10k test)"
    mode = "FULL 30-epoch run" if a.full else f"shortened to {epochs} epoch(s), PROJECTED to {EPOCHS}"
    if a.no_report or a.smoke:
        mode += ", without the report (--no-report)"
    print(f"\nbenchmark 2: the chapter's whole job, {work}; lrlab {mode}; {rounds} interleaved round(s)")
    book_ok = [b for b in books if b.get("ok")]
    book_ips = [b["images_per_s"] for b in book_ok]
    book_proj = [n_runs * EPOCHS * 60_000 / ips for ips in book_ips]
    table: list[tuple[str, str]] = []
    if book_ips:
        table.append(("book loop images/s (1 epoch, per round)", common.Summary.of(book_ips).fmt()))
        table.append(
            ("book loop, projected whole job", common.Summary.of([t / 60 for t in book_proj]).fmt(".1f", " min"))
        )
    if compares and all(c.get("ok") for c in compares):
        walls = [c["wall_s"] for c in compares]
        proj = [c["projected_s"] for c in compares]
        table.append(
            (
                f"lrlab compare --preset {PRESET}{'' if a.full else f' --epochs {epochs}'}: wall",
                common.Summary.of(walls).fmt(".1f", " s"),
            )
        )
        if compares[0].get("per_epoch_s") is not None:
            table.append(
                (
                    "  of which fixed (start-up, data, report)",
                    common.Summary.of([c["fixed_s"] for c in compares]).fmt(".1f", " s"),
                )
            )
            table.append(
                (
                    "  training seconds per epoch (all runs)",
                    common.Summary.of([c["per_epoch_s"] for c in compares]).fmt(".1f", " s"),
                )
            )
        label = "lrlab, whole job" + ("" if a.full else " (projected)")
        table.append((label, common.Summary.of([t / 60 for t in proj]).fmt(".2f", " min")))
        table.append(("projection", "none (all 30 epochs run)" if a.full else compares[0]["projection"]))
    elif compares:
        missing = next(c["error"] for c in compares if not c.get("ok"))
    for k, v in table:
        print(f"  {k:<52} {v}")
    if missing:
        print(f"  lrlab compare: not available yet ({missing.splitlines()[-1][:150]})")

    print()
    ratios: dict[str, Any] = {}
    proj_label = "lrlab compare, whole job (min)" + ("" if a.full else f", projected from {epochs} ep")
    speed_label = "book loop / lrlab compare, whole-job time"
    if missing is None and compares and book_proj:
        proj_min = [c["projected_s"] / 60 for c in compares]
        pairs = list(zip(book_ok, compares, strict=False))
        speed = [n_runs * EPOCHS * 60_000 / b["images_per_s"] / c["projected_s"] for b, c in pairs]
        flags = [common.contended(b, c) for b, c in pairs]
        note = common.contention_note(flags)
        s = common.Summary.of(proj_min)
        v = common.verdict(s.median, TARGET_MIN, higher_is_better=False)
        print(
            f"ratio  {proj_label:<52} {s.median:8.2f} min ({s.lo:.2f}-{s.hi:.2f}, n={s.n}){note}  "
            f"target <= {TARGET_MIN:g} min  {v}"
        )
        print(common.ratio_line(speed_label, speed, note=note))
        ratios["job_minutes"] = {
            "label": proj_label,
            "available": True,
            **s.as_dict(),
            "target": TARGET_MIN,
            "unit": "min",
            "higher": False,
            "contended": sum(flags),
            "verdict": v,
        }
        sp = common.Summary.of(speed)
        ratios["speedup"] = {
            "label": speed_label,
            "available": True,
            **sp.as_dict(),
            "contended": sum(flags),
            "target": None,
            "verdict": None,
        }
    else:
        for key, label, unit in (("job_minutes", proj_label, "min"), ("speedup", speed_label, "x")):
            print(f"ratio  {label:<52} not available yet")
            ratios[key] = {
                "label": label,
                "available": False,
                "unit": unit,
                "higher": key != "job_minutes",
                "target": TARGET_MIN if key == "job_minutes" else None,
            }

    notes = [
        f"Work: {work}. lrlab: {mode}. The book loop's time for the same work is projected from its measured "
        "images/s (one epoch per round, each in a fresh process, interleaved with the lrlab runs).",
    ]
    if missing:
        notes.append(f"lrlab compare: not available yet ({missing.splitlines()[-1][:200]}).")
    path = common.save_result(
        NAME,
        {
            "smoke": a.smoke,
            "full": a.full,
            "epochs": epochs,
            "rounds": rounds,
            "schedules": n_runs,
            "book": books,
            "compare": compares,
            "table": table,
            "notes": notes,
            "ratios": ratios,
        },
        a.out_dir,
    )
    print(f"\nsaved {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
