"""Benchmark 1, training throughput: the book's loop against lrlab's trainer, in model-images per second.

Variants, each run in a fresh process per round, rounds interleaved (rotated order):
  (a) book    the d2l chapter's loop (per-image Dataset, DataLoader(256, shuffle, 4 workers), float() metrics)
  (b) one     lrlab's trainer, one run
  (c) k       lrlab's trainer, K=6 runs together as it trains them (``fused="auto"``: the fused vmap
              pass on CUDA, where it wins; on the CPU, where it measured slower, each model in turn)
  (d) seq     six lrlab runs one after another (six jobs of one run)
  (f) fused   lrlab's trainer, K=6 runs forced through the fused vmap pass (``fused=True``), for the record
images/s = model-images trained / (train + per-epoch test-eval time); for K runs each model-image counts.
(a) and (b) time one full epoch (60k train + 10k test); (c), (d), (f) one epoch of a sixth of the data
(10k + 1,667), the same for all three. "others max": the most cores other processes used during a
measurement; a round where they used >= 0.25 cores is counted as contended beside its ratio.
Fraction of peak = (2.264 MFLOP x trained + 0.833 MFLOP x evaluated) / s / GEMM peak,
where the GEMM peak is fp32 torch.mm with 2 threads, best of a few sizes, measured here.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import variant

NAME = "throughput"


def variants(k: int, subset: bool) -> dict[str, dict[str, Any]]:
    """The variant keys, labels and `variant.run_variant` options (`subset`: a sixth of the data for K runs)."""
    small = {"n_train": 10_000, "n_test": 1_667} if subset else {}
    return {
        "book": {"label": "(a) book loop (per-image Dataset, 4 workers)", "args": {"name": "book"}},
        "one": {"label": "(b) lrlab trainer, 1 run", "args": {"name": "lrlab", "runs": 1, "mode": "auto"}},
        "k": {
            "label": f"(c) lrlab trainer, K={k} runs together (auto)",
            "args": {"name": "lrlab", "runs": k, "mode": "auto", **small},
        },
        "seq": {
            "label": f"(d) {k} lrlab runs one after another",
            "args": {"name": "lrlab", "runs": k, "mode": "sequential", **small},
        },
        "fused": {
            "label": f"(f) lrlab trainer, K={k} forced fused (vmap)",
            "args": {"name": "lrlab", "runs": k, "mode": "fused", **small},
        },
    }


def child_args(opts: dict[str, Any], smoke: bool) -> list[str]:
    """Command-line arguments of `variant.py` for `opts`."""
    args = [opts["name"]]
    for key in ("runs", "mode", "n_train", "n_test"):
        if key in opts:
            args += [f"--{key.replace('_', '-')}", str(opts[key])]
    if smoke:
        args.append("--smoke")
    return args


def measure(opts: dict[str, Any], smoke: bool, inproc: bool) -> dict[str, Any]:
    """One timed run of a variant: in this process (smoke) or in a fresh one."""
    if inproc:
        kw = {k: v for k, v in opts.items() if k != "name"}
        return variant.run_variant(opts["name"], smoke=smoke, **kw)
    return common.run_child(child_args(opts, smoke))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the rounds, print the table and the ratio lines, save ``out/bench/throughput.json``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--k", type=int, default=6, help="runs trained together in (c), (d), (f)")
    p.add_argument("--smoke", action="store_true", help="synthetic data, in-process, 1 round (for the tests)")
    p.add_argument("--out-dir", type=Path, default=None)
    a = p.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    if not a.smoke and (warn := common.busy_warning()) is not None:
        print(warn, flush=True)
    rounds = 1 if a.smoke else a.rounds
    k = 2 if a.smoke else a.k
    specs = variants(k, subset=not a.smoke)
    gemm_sizes = (256, 512) if a.smoke else (512, 1024, 2048)

    gemm = []
    results: dict[str, list[dict[str, Any]]] = {key: [] for key in specs}
    for r in range(rounds):
        gemm.append(common.gemm_peak(gemm_sizes, reps=3 if a.smoke else 5))  # once a round: the best one counts
        for key in common.rotated(list(specs), r):
            res = measure(specs[key]["args"], a.smoke, inproc=a.smoke)
            results[key].append(res)
            status = f"{res['images_per_s']:,.0f} img/s" if res.get("ok") else "not available"
            if res.get("others_cores") is not None:
                status += f"  (other processes: {res['others_cores']:.2f} cores)"
            print(f"  round {r + 1}/{rounds}  {key:<6} {status}", flush=True)
    gemm.append(common.gemm_peak(gemm_sizes, reps=3 if a.smoke else 5))
    peak = max(g["gflops"] for g in gemm)

    best = max(gemm, key=lambda g: g["gflops"])["best_size"]
    print(
        f"\nbenchmark 1: training throughput  ({rounds} interleaved rounds; GEMM peak {peak:.0f} GFLOP/s fp32 "
        f"torch.mm, 2 threads, best of {len(gemm)} measurements, size {best})"
    )
    head = (
        f"{'variant':<48} {'model-images/s median (min-max)':>34} {'% GEMM peak':>12} {'test acc':>9} "
        f"{'RSS MB':>8} {'others max':>10}"
    )
    print(head)
    rows: dict[str, Any] = {}
    for key, spec in specs.items():
        good = [x for x in results[key] if x.get("ok")]
        if not good:
            err = results[key][0].get("error", "failed") if results[key] else "not run"
            print(f"{spec['label']:<48} {'not available yet':>34}   ({err.splitlines()[-1][:90]})")
            rows[key] = {"label": spec["label"], "available": False, "error": err}
            continue
        ips = common.Summary.of([x["images_per_s"] for x in good])
        frac = common.Summary.of([100 * x["gflops"] / peak for x in good])
        rss = max(x.get("rss", {}).get("total_mb", 0.0) for x in good)
        others = max((x.get("others_cores") or 0.0) for x in good)
        acc = good[-1].get("test_acc", float("nan"))
        print(f"{spec['label']:<48} {ips.fmt():>34} {frac.median:11.1f}% {acc:9.3f} {rss:8.0f} {others:10.2f}")
        rows[key] = {
            "label": spec["label"],
            "available": True,
            "images_per_s": ips.as_dict(),
            "percent_of_peak": frac.as_dict(),
            "test_acc": acc,
            "rss_total_mb": rss,
            "others_cores_max": others,
            "runs": good,
        }

    print()
    ratios: dict[str, Any] = {}

    def per_round(num: str, den: str) -> tuple[list[float], list[bool]] | None:
        pairs = [(x, y) for x, y in zip(results[num], results[den], strict=True) if x.get("ok") and y.get("ok")]
        if not pairs:
            return None
        return [x["images_per_s"] / y["images_per_s"] for x, y in pairs], [common.contended(x, y) for x, y in pairs]

    def report(
        key: str, label: str, got: tuple[list[float], list[bool]] | None, target: float | None, unit: str = "x"
    ) -> None:
        if got is None:
            print(f"ratio  {label:<52} not available yet")
            ratios[key] = {"label": label, "available": False, "target": target, "unit": unit}
            return
        vals, flags = got
        note = common.contention_note(flags)
        s = common.Summary.of(vals)
        if unit == "%":
            line = f"ratio  {label:<52} {s.median:8.1f}% ({s.lo:.1f}-{s.hi:.1f}%, n={s.n}){note}"
            if target is not None:
                line += f"  target >= {target:g}%  {common.verdict(s.median, target)}"
            print(line)
        else:
            print(common.ratio_line(label, vals, target, note=note))
        ratios[key] = {
            "label": label,
            "available": True,
            **s.as_dict(),
            "target": target,
            "unit": unit,
            "contended": sum(flags),
            "verdict": None if target is None else common.verdict(s.median, target),
        }

    report("one_vs_book", "(b) one run / (a) book loop, images/s", per_round("one", "book"), 4.0)
    one_ok = [x for x in results["one"] if x.get("ok")]
    peak_vals = ([100 * x["gflops"] / peak for x in one_ok], [common.contended(x) for x in one_ok])
    report("one_peak", "(b) one run, fraction of GEMM peak", peak_vals if one_ok else None, 40.0, unit="%")
    report("k_vs_seq", f"(c) K={k} together / (d) {k} sequential, images/s", per_round("k", "seq"), 1.0)
    report("k_vs_book", f"(c) K={k} together / (a) book loop", per_round("k", "book"), None)
    report("seq_vs_book", f"(d) {k} sequential / (a) book loop", per_round("seq", "book"), None)
    report("k_vs_one", f"(c) K={k} together / (b) one run", per_round("k", "one"), None)
    report("fused_vs_seq", f"(f) K={k} forced fused / (d) {k} sequential", per_round("fused", "seq"), None)

    path = common.save_result(
        NAME,
        {
            "smoke": a.smoke,
            "rounds": rounds,
            "k": k,
            "gemm": gemm,
            "gemm_peak_gflops": peak,
            "rows": rows,
            "ratios": ratios,
        },
        a.out_dir,
    )
    print(f"\nsaved {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
