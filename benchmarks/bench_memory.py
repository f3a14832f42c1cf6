"""Benchmark 4, peak memory of each training variant, each in its own fresh process.

Each variant loads the whole data set, trains the first ``--batches`` batches of an epoch (the
high-water mark is reached within the first batches: data, model, optimizer, activations, loader
workers all exist by then) and evaluates the whole test set. Reported per variant:
  self      ``getrusage(RUSAGE_SELF).ru_maxrss`` of the variant's process
  child     ``getrusage(RUSAGE_CHILDREN).ru_maxrss``: the largest single child (the DataLoader workers)
  self+child  the two summed, as the issue asks
  tree PSS  the peak, sampled every 0.25 s, of the proportional set size summed over the process and
            all its descendants (shared pages split between the processes sharing them)
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_throughput
import common
import variant

NAME = "memory"


def main(argv: Sequence[str] | None = None) -> int:
    """Run every variant once in a fresh process; print the table and ratio lines; save the JSON."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batches", type=int, default=20, help="training batches per variant (then a full test eval)")
    p.add_argument("--k", type=int, default=6)
    p.add_argument(
        "--smoke",
        action="store_true",
        help="synthetic data, 2 batches, in this process: checks the plumbing, not the memory (tests)",
    )
    p.add_argument("--out-dir", type=Path, default=None)
    a = p.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    if not a.smoke and (warn := common.busy_warning()) is not None:
        print(warn, flush=True)
    batches = 2 if a.smoke else a.batches
    specs = bench_throughput.variants(2 if a.smoke else a.k, subset=False)  # the whole data set
    rows: dict[str, Any] = {}
    for key, spec in specs.items():
        opts = dict(spec["args"])
        args = [
            *bench_throughput.child_args(opts, a.smoke),
            "--max-batches",
            str(batches),
            "--sample-memory",
            "--no-warmup",
        ]
        if a.smoke:
            res = variant.run_variant(opts.pop("name"), smoke=True, max_batches=batches, **opts)
            res["rss"] = {**common.max_rss_mb(), "tree_pss_peak_mb": common.tree_pss_mb()}
        else:
            res = common.run_child(args)
        rows[key] = {"label": spec["label"], **res}
        print(f"  {key:<6} {'ok' if res.get('ok') else 'not available'}", flush=True)

    where = "smoke: all in this process, figures not meaningful" if a.smoke else "each variant in its own process"
    print(f"\nbenchmark 4: peak memory, {where} ({batches} training batches, then the test set; MB)")
    print(f"{'variant':<48} {'self':>7} {'child':>7} {'self+child':>11} {'tree PSS':>9}")
    for row in rows.values():
        if not row.get("ok"):
            err = str(row.get("error", "failed")).splitlines()[-1][:90]
            print(f"{row['label']:<48} {'not available yet':>36}   ({err})")
            continue
        m = row["rss"]
        print(
            f"{row['label']:<48} {m['self_mb']:7.0f} {m['children_mb']:7.0f} {m['total_mb']:11.0f} "
            f"{m.get('tree_pss_peak_mb', 0):9.0f}"
        )

    print()
    ratios: dict[str, Any] = {}
    book = rows["book"]
    for key in ("one", "k", "seq", "fused"):
        label = f"{rows[key]['label'].split(' ', 1)[0]} / (a), peak RSS self + child"
        row = rows[key]
        if not (row.get("ok") and book.get("ok")):
            print(f"ratio  {label:<52} not available yet")
            ratios[key] = {"label": label, "available": False}
            continue
        r = row["rss"]["total_mb"] / book["rss"]["total_mb"]
        print(common.ratio_line(label, [r]))
        ratios[key] = {"label": label, "available": True, "median": r, "min": r, "max": r, "n": 1}

    path = common.save_result(NAME, {"smoke": a.smoke, "batches": batches, "rows": rows, "ratios": ratios}, a.out_dir)
    print(f"\nsaved {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
