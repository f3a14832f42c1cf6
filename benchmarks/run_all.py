"""``make bench``: run every benchmark, each in its own process, then rewrite ``benchmarks/RESULTS.md``.

Budget on the 2-core CPU machine (well under 15 minutes): scheduler ~0.5 min, throughput ~4-5 min
(3 rounds), memory ~1 min, chapter job ~3-4 min (shortened and projected; ``--full`` runs all 30 epochs,
which takes far longer), workers ~4-5 min (2 rounds of five one-epoch jobs).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import report

SCRIPTS = ("bench_scheduler", "bench_throughput", "bench_memory", "bench_chapter", "bench_workers")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scripts in order; return non-zero if any failed."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--full", action="store_true", help="the chapter job: all 30 epochs instead of a projection")
    p.add_argument("--smoke", action="store_true", help="tiny sizes; results go to a temporary folder")
    p.add_argument("--only", nargs="*", choices=SCRIPTS, default=None, help="run only these scripts")
    a = p.parse_args(argv)
    out_dir = Path(tempfile.mkdtemp(prefix="lrlab-bench-")) if a.smoke else common.OUT_DIR
    failed: list[str] = []
    timings: dict[str, dict[str, float]] = {}
    t_all = time.perf_counter()
    for name in a.only or SCRIPTS:
        args = [sys.executable, str(common.BENCH_DIR / f"{name}.py"), "--out-dir", str(out_dir)]
        if a.smoke:
            args.append("--smoke")
        if a.full and name == "bench_chapter":
            args.append("--full")
        busy = common.busy_cores() or 0.0
        print(f"\n=== {name} (cores kept busy by other processes before it: {busy:.1f}) ===", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.run(args, check=False).returncode
        wall = time.perf_counter() - t0
        timings[name] = {"seconds": round(wall, 1), "busy_cores_before": round(busy, 2), "exit": rc}
        print(f"=== {name}: exit {rc}, {wall:.0f} s ===", flush=True)
        if rc != 0:
            failed.append(name)
    total = time.perf_counter() - t_all
    print(f"\nall benchmarks: {total:.0f} s")
    (out_dir / "run_all.json").write_text(
        json.dumps({"seconds": round(total, 1), "scripts": timings, "full": a.full, "smoke": a.smoke}, indent=2)
    )
    if a.smoke:
        print(report.render(out_dir))
        shutil.rmtree(out_dir, ignore_errors=True)
    else:
        path = common.BENCH_DIR / "RESULTS.md"
        path.write_text(report.render(out_dir))
        print(f"wrote {path}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
