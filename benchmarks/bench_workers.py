"""Benchmark 5, worker processes: the same ``lrlab compare`` jobs with one process and with several.

Rows, each measured side by side in every round (interleaved, each job a fresh ``lrlab`` process):
  (a) the chapter's job (``--preset chapter``, 5 runs) with ``--workers 1`` and with ``--workers auto``,
      shortened to two epochs and PROJECTED to 30 (fixed + 30 x the mean training seconds per epoch: two
      epochs, because one epoch of five runs on two workers ends unevenly where the next ones start early);
      target on the 2-core AMD machine: the auto job <= 6 min;
  (b) the chapter's job over three seeds (``--seeds 3``, 15 runs), ``--workers auto``, projected; target <= 18 min;
  (c) a 12-run job (the chapter's LeNet, 12 rates, on a sixth of the data: 10k train + 1,667 test) with
      ``--workers 1`` and ``--workers 2``; target: 2 workers >= 1.25x 1 worker;
  (e) the kernel lever kept as an opt-in: the chapter's job with ``--precision bfloat16`` (forward passes
      under torch's bfloat16 autocast: other numbers) against the same job in float32;
  (d) each worker's peak memory (the ``worker_peak_mb`` of the jobs' ``end`` records) beside the parent's.
Every job uses one thread per run (the default), so all of them compute the same numbers per run.
"""

from __future__ import annotations

import argparse
import json
import resource
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
from bench_chapter import EPOCHS, lrlab_command

NAME = "workers"
TARGET_CHAPTER_MIN = 6.0
TARGET_SEEDS_MIN = 18.0
TARGET_SCALING = 1.25
RATES = [f"constant({0.05 * (k + 1):g})" for k in range(12)]
#: epochs each job trains: two, so that five runs' ten run-epochs split evenly over two workers
JOB_EPOCHS = 2


def end_record(out: Path) -> dict[str, Any]:
    """The ``end`` record of the job's ``metrics.jsonl``, and its ``job.json``'s ``workers``."""
    for line in reversed((out / "metrics.jsonl").read_text().splitlines()):
        rec = json.loads(line)
        if rec.get("type") == "end":
            job = json.loads((out / "job.json").read_text())
            return {**rec, "workers": job.get("workers", 1), "threads_per_run": job.get("threads_per_run")}
    raise RuntimeError(f"{out}: the job did not end")


def run_job(args: list[str], data: Path | None) -> dict[str, Any]:
    """Time one ``lrlab compare`` in a fresh process; its training seconds, workers and memory."""
    out = Path(tempfile.mkdtemp(prefix="lrlab-bench-workers-"))
    full = ["compare", *args, "--epochs", str(JOB_EPOCHS), "--out", str(out / "job"), "--quiet", "--no-report"]
    if data is not None:
        full += ["--data", str(data)]
    try:
        t0 = time.perf_counter()
        with common.OthersMeter() as others:
            proc = subprocess.run([*lrlab_command(), *full], capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            return {"ok": False, "error": f"lrlab {' '.join(full)}: exit {proc.returncode}: {proc.stderr[-800:]}"}
        end = end_record(out / "job")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    fixed = max(wall - float(end["seconds"]), 0.0)
    per_epoch = float(end["seconds"]) / int(end["epochs"])
    return {
        "ok": True,
        "wall_s": wall,
        "train_s": per_epoch,
        "fixed_s": fixed,
        "projected_s": fixed + EPOCHS * per_epoch,
        "workers": end["workers"],
        "threads_per_run": end["threads_per_run"],
        "worker_peak_mb": end.get("worker_peak_mb") or [],
        "others_cores": others.cores,
        "parent_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--smoke", action="store_true", help="tiny synthetic data (for the tests)")
    p.add_argument("--out-dir", type=Path, default=None)
    a = p.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    if not a.smoke and (warn := common.busy_warning()) is not None:
        print(warn, flush=True)
    rounds = 1 if a.smoke else a.rounds
    tmp = Path(tempfile.mkdtemp(prefix="lrlab-bench-data-"))
    arrays = common.synthetic_arrays() if a.smoke else common.fashion_mnist_arrays()
    full_data = common.write_fashion_mnist(tmp / "full", arrays) if a.smoke else None
    small = common.write_fashion_mnist(tmp / "sixth", common.subset(arrays, len(arrays[0]) // 6, len(arrays[2]) // 6))
    jobs = {
        "chapter_1": (["--preset", "chapter", "--workers", "1"], full_data),
        "chapter_auto": (["--preset", "chapter", "--workers", "auto"], full_data),
        "chapter_bf16": (["--preset", "chapter", "--workers", "auto", "--precision", "bfloat16"], full_data),
        "seeds3_auto": (["--preset", "chapter", "--seeds", "3", "--workers", "auto"], full_data),
        "twelve_1": ([*RATES, "--workers", "1"], small),
        "twelve_2": ([*RATES, "--workers", "2"], small),
    }
    results: dict[str, list[dict[str, Any]]] = {k: [] for k in jobs}
    try:
        for r in range(rounds):
            for key in common.rotated(list(jobs), r):
                args, data = jobs[key]
                results[key].append(run_job(args, data))
                print(f"  round {r + 1}/{rounds}  {key} done", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    failed = [res["error"] for rows in results.values() for res in rows if not res.get("ok")]
    ratios: dict[str, Any] = {}
    table: list[tuple[str, str]] = []
    print(f"\nbenchmark 5: worker processes ({common.cpu_model()}, {common.machine_info().get('cores')} cores)")
    if failed:
        print("  failed: " + failed[0])
    else:

        def minutes(key: str) -> list[float]:
            return [res["projected_s"] / 60 for res in results[key]]

        def pairs(a_key: str, b_key: str) -> tuple[list[float], str]:
            flags = [common.contended(x, y) for x, y in zip(results[a_key], results[b_key], strict=True)]
            ratio = [x["train_s"] / y["train_s"] for x, y in zip(results[a_key], results[b_key], strict=True)]
            return ratio, common.contention_note(flags)

        n_auto = results["chapter_auto"][0]["workers"]
        n_seeds = results["seeds3_auto"][0]["workers"]
        for key, label in (
            ("chapter_1", "chapter job, 1 worker (projected)"),
            ("chapter_auto", f"chapter job, auto = {n_auto} workers (projected)"),
            ("seeds3_auto", f"chapter job --seeds 3, auto = {n_seeds} workers (projected)"),
            ("chapter_bf16", "chapter job, --precision bfloat16, auto workers (projected)"),
        ):
            table.append((label, common.Summary.of(minutes(key)).fmt(".2f", " min")))
        for key, label in (("twelve_1", "12-run job, 1 worker"), ("twelve_2", "12-run job, 2 workers")):
            table.append(
                (
                    f"{label}: training s per epoch",
                    common.Summary.of([x["train_s"] for x in results[key]]).fmt(".1f", " s"),
                )
            )
        peaks = [m for key in jobs for res in results[key] for m in res["worker_peak_mb"]]
        if peaks:
            table.append(("peak memory per worker", f"{max(peaks):.0f} MB (largest of {len(peaks)} workers)"))
        table.append(
            (
                "peak memory, largest process (parent or worker)",
                f"{max(r['parent_peak_mb'] for rows in results.values() for r in rows):.0f} MB",
            )
        )
        for k, v in table:
            print(f"  {k:<60} {v}")
        print()
        speed, note = pairs("chapter_1", "chapter_auto")
        print(common.ratio_line(f"chapter job: {n_auto} workers / 1 worker", speed, note=note))
        ratios["chapter_speedup"] = {
            "label": f"chapter job, auto ({n_auto}) workers vs 1",
            "available": True,
            **common.Summary.of(speed).as_dict(),
            "target": None,
            "verdict": None,
            "contended": note.count("contended"),
        }
        for key, label, target in (
            ("chapter_auto", "chapter job with workers (min, projected)", TARGET_CHAPTER_MIN),
            ("seeds3_auto", "chapter job --seeds 3 with workers (min, projected)", TARGET_SEEDS_MIN),
        ):
            s = common.Summary.of(minutes(key))
            v = common.verdict(s.median, target, higher_is_better=False)
            spread = f"({s.lo:.2f}-{s.hi:.2f}, n={s.n})"
            print(f"ratio  {label:<52} {s.median:8.2f} min {spread}  target <= {target:g} min  {v}")
            ratios[key] = {
                "label": label,
                "available": True,
                **s.as_dict(),
                "target": target,
                "unit": "min",
                "higher": False,
                "verdict": v,
            }
        half, note = pairs("chapter_auto", "chapter_bf16")
        print(common.ratio_line("chapter job: bfloat16 / float32 (opt-in lever)", half, note=note))
        ratios["bfloat16"] = {
            "label": "chapter job, --precision bfloat16 vs float32 (opt-in: other numbers)",
            "available": True,
            **common.Summary.of(half).as_dict(),
            "target": None,
            "verdict": None,
        }
        scaling, note = pairs("twelve_1", "twelve_2")
        print(common.ratio_line("12-run job: 2 workers / 1 worker", scaling, TARGET_SCALING, note=note))
        s = common.Summary.of(scaling)
        ratios["scaling"] = {
            "label": "12-run job, 2 workers vs 1",
            "available": True,
            **s.as_dict(),
            "target": TARGET_SCALING,
            "verdict": common.verdict(s.median, TARGET_SCALING),
        }
    notes = [
        "Every job: `lrlab compare ... --epochs 2 --quiet --no-report` in a fresh process, one thread per run; "
        "the chapter jobs are projected to 30 (fixed + 30 x the mean training seconds per epoch). Ratios are of "
        "training seconds per epoch, paired within a round. Worker peak memory comes from the jobs' own records.",
    ]
    path = common.save_result(
        NAME,
        {"smoke": a.smoke, "rounds": rounds, "results": results, "table": table, "notes": notes, "ratios": ratios},
        a.out_dir,
    )
    print(f"\nsaved {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
