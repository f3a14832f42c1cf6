"""Write ``benchmarks/RESULTS.md`` from the result files in ``out/bench/`` (the latest run of each benchmark)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

SECTIONS = (
    ("throughput", "1. Training throughput"),
    ("chapter", "2. The chapter's whole job"),
    ("scheduler", "3. Scheduler overhead"),
    ("memory", "4. Peak memory"),
    ("workers", "5. Worker processes"),
)


def _load(out_dir: Path, name: str) -> dict[str, Any] | None:
    path = out_dir / f"{name}.json"
    if not path.exists():
        return None
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def _num(x: float, unit: str = "x") -> str:
    if unit == "%":
        return f"{x:.1f}%"
    if unit == "min":
        return f"{x:.2f} min"
    return f"{x:,.0f}x" if x >= 100 else f"{x:.2f}x"


def _suffix(unit: str) -> str:
    return {"%": "%", "min": " min"}.get(unit, "x")


def ratio_table(ratios: dict[str, Any]) -> list[str]:
    """Markdown rows: what, median, min-max, runs, target, verdict."""
    lines = [
        "| ratio | median | min-max | n | contended rounds | target | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in ratios.values():
        unit = r.get("unit", "x")
        target = r.get("target")
        op = "<=" if r.get("higher") is False else ">="
        tgt = "" if target is None else f"{op} {target:g}{_suffix(unit)}"
        if not r.get("available", True):
            lines.append(f"| {r['label']} | not available yet | | | | {tgt} | |")
            continue
        rng = f"{_num(r['min'], unit)}-{_num(r['max'], unit)}"
        verdict = f"**{r['verdict']}**" if r.get("verdict") else ""
        cont = "" if r.get("contended") is None else str(r["contended"])
        lines.append(f"| {r['label']} | {_num(r['median'], unit)} | {rng} | {r['n']} | {cont} | {tgt} | {verdict} |")
    return lines


def _fmt_summary(s: dict[str, Any], spec: str = ",.0f") -> str:
    return f"{s['median']:{spec}} ({s['min']:{spec}}-{s['max']:{spec}})"


def throughput_body(doc: dict[str, Any]) -> list[str]:
    """Table of variants, then the ratios."""
    out = [
        f"GEMM peak (fp32 `torch.mm`, 2 threads, best size and best round): **{doc['gemm_peak_gflops']:.0f} GFLOP/s**. "
        f"{doc['rounds']} interleaved rounds, each variant in a fresh process per round. (a) and (b): one full "
        "epoch (60k train + 10k test eval); (c), (d), (f): one epoch of a sixth of the data (10k + 1,667), the "
        'same for all three. (c) is how the trainer trains K runs (`fused="auto"`: one model after another '
        "on the CPU, where the fused vmap pass (f) measured slower; fused on CUDA). "
        "*others* is the most cores other processes used during one of the variant's "
        "measurements; a round where they used 0.25 cores or more counts as *contended*.",
        "",
        "| variant | model-images/s median (min-max) | % of GEMM peak | test acc (first run) "
        "| peak RSS MB (self + child) | others (cores) |",
        "|---|---|---|---|---|---|",
    ]
    for row in doc["rows"].values():
        if not row.get("available"):
            out.append(f"| {row['label']} | not available yet | | | | |")
            continue
        out.append(
            f"| {row['label']} | {_fmt_summary(row['images_per_s'])} | "
            f"{row['percent_of_peak']['median']:.1f}% | {row['test_acc']:.3f} | {row['rss_total_mb']:.0f} | "
            f"{row.get('others_cores_max', 0.0):.2f} |"
        )
    return [*out, "", *ratio_table(doc["ratios"])]


def scheduler_body(doc: dict[str, Any]) -> list[str]:
    """Per-step times, 10^6-step times, ratios."""
    out = [
        f"{doc['rounds']} interleaved rounds; {doc['steps_timed']:,} `step()` calls per variant and round; the "
        f"10^6-step torch loop timed for {doc['torch_steps_timed']:,} steps and scaled by "
        f"{doc['vector_steps'] // doc['torch_steps_timed']}. Each pair is the same curve (max |Δlr| over the "
        "horizon shown).",
        "",
        "| curve | torch scheduler | max abs Δlr | lrlab µs/step | torch µs/step | lrlab 10^6 vectorised ms "
        "| torch 10^6 loop s |",
        "|---|---|---|---|---|---|---|",
    ]
    for k, row in doc["rows"].items():
        out.append(
            f"| {k} | `{row['torch']}` | {row['max_abs_lr_gap']:.1e} | {_fmt_summary(row['lrlab_us'], '.2f')}"
            f" | {_fmt_summary(row['torch_us'], '.2f')} | {_fmt_summary(row['vectorised_ms'], '.1f')} | "
            f"{_fmt_summary(row['torch_loop_s'], '.2f')} |"
        )
    return [*out, "", *ratio_table(doc["ratios"])]


def memory_body(doc: dict[str, Any]) -> list[str]:
    """Per-variant RSS table."""
    out = [
        f"Each variant in its own process: the whole data set loaded, {doc['batches']} training batches, then "
        "the whole test set. *self* and *child* are `getrusage` `ru_maxrss` (child: the largest single child, "
        "i.e. one DataLoader worker); *tree PSS* is the sampled peak of the proportional set size summed over "
        "the process and all its workers.",
        "",
        "| variant | self MB | largest child MB | self + child MB | tree PSS MB |",
        "|---|---|---|---|---|",
    ]
    for row in doc["rows"].values():
        if not row.get("ok"):
            out.append(f"| {row['label']} | not available yet | | | |")
            continue
        m = row["rss"]
        out.append(
            f"| {row['label']} | {m['self_mb']:.0f} | {m['children_mb']:.0f} | {m['total_mb']:.0f} | "
            f"{m.get('tree_pss_peak_mb', 0):.0f} |"
        )
    return [*out, "", *ratio_table(doc["ratios"])]


def chapter_body(doc: dict[str, Any]) -> list[str]:
    """Measured and projected job times, ratios."""
    lines: list[str] = [str(x) for x in doc.get("notes", [])]
    table = doc.get("table", [])
    if table:
        lines += ["", "| what | value |", "|---|---|", *[f"| {k} | {v} |" for k, v in table]]
    return [*lines, "", *ratio_table(doc["ratios"])]


BODIES = {
    "throughput": throughput_body,
    "scheduler": scheduler_body,
    "memory": memory_body,
    "chapter": chapter_body,
    "workers": chapter_body,  # notes, a table and ratios, as the chapter's
}


def render(out_dir: Path | None = None) -> str:
    """The whole RESULTS.md text."""
    folder = out_dir or common.OUT_DIR
    docs = {name: _load(folder, name) for name, _ in SECTIONS}
    any_doc = next((d for d in docs.values() if d), None)
    m = (any_doc or {}).get("machine") or common.machine_info()
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`benchmarks/run_all.py`) from the result files in `out/bench/`; do not edit by "
        "hand. Every figure is a ratio measured side by side in the same run (absolute times drift on shared "
        "machines): the median of the per-round ratios, with the min-max over the rounds.",
        "",
        f"- machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gb', '?')} GB RAM, "
        f"OMP_NUM_THREADS={m.get('OMP_NUM_THREADS')}, torch threads {m.get('torch_threads')}",
        f"- versions: Python {m.get('python')}, torch {m.get('torch')}, NumPy {m.get('numpy')}, "
        f"lrlab {m.get('lrlab')} (git {m.get('git')})",
        f"- platform: {m.get('platform')}",
        "",
        "Run: `make bench` (all five: about 17 min on 2 idle AMD EPYC cores, 2026-12-03; "
        "`make bench BENCH_ARGS=--full` runs the chapter job for all 30 epochs instead of projecting it, "
        "10-20 min more), or one script: "
        "`.venv/bin/python benchmarks/bench_throughput.py` (`bench_chapter.py`, `bench_scheduler.py`, "
        "`bench_memory.py`, `bench_workers.py`; `--help` for options). Each benchmark records how many cores "
        "*other* processes used (at its start, and during every training measurement): on a shared machine "
        "they slow every variant, 2-thread OpenMP code the most, and a contended figure is marked as such. "
        "`benchmarks/PROFILE.md` has the profile of one training epoch and what to change.",
        "",
    ]
    run_all = _load(folder, "run_all")
    if run_all:
        parts = ", ".join(
            f"{k.removeprefix('bench_')} {v['seconds']:.0f} s (others' busy cores before: {v['busy_cores_before']:.1f})"
            for k, v in run_all["scripts"].items()
        )
        lines += [f"Last `run_all.py`: {run_all['seconds'] / 60:.1f} min in all: {parts}.", ""]
    for name, title in SECTIONS:
        doc = docs[name]
        lines += [f"## {title}", ""]
        if doc is None:
            lines += ["Not run yet.", ""]
            continue
        smoke = " (SMOKE RUN: tiny synthetic sizes, figures meaningless)" if doc.get("smoke") else ""
        mach = doc.get("machine", {})
        load, busy = mach.get("loadavg_1_5_15"), mach.get("busy_cores_at_start")
        load_text = f", load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end" if load else ""
        if busy is not None:
            load_text += f"; other processes used {busy:.1f} cores at the start"
            if busy >= 0.5:
                load_text += " **- the machine was busy: figures unreliable**"
        lines += [f"`{doc['command']}`, {doc['date']}{load_text}{smoke}", "", *BODIES[name](doc), ""]
    cuda = any(bool((d or {}).get("machine", {}).get("cuda")) for d in docs.values())
    lines += [
        "## GPU",
        "",
        "A GPU was visible to torch in this run, but these scripts measure the CPU paths only."
        if cuda
        else "No GPU was available in this session: every figure above is CPU-only. The fused-vs-plain verdict "
        "in particular may reverse on a GPU, where per-kernel launch overhead dominates these small ops; "
        '`fused="auto"` fuses on CUDA for that reason, unmeasured.',
        "",
        "## The other kind of machine",
        "",
        "The project's 2-core machines are not all one CPU, and the ratios move with it. On the AMD EPYC "
        "(Zen 4) machines, 2026-11-28, before pool-before-ReLU, the smaller eval batches and the cheaper "
        "`ScheduleLR.step()`: one run 2.59x the book loop at 16.4 % of a 132 GFLOP/s GEMM peak, the chapter's "
        "whole job 17.9 min projected (2.43x faster than the book loop's 43.5 min), K=6 forced fused 0.71x "
        "of six sequential runs, `step()` 0.84x of `MultiStepLR`'s, 10^6 vectorised steps 119-161x a torch "
        "loop. `benchmarks/PROFILE.md` has both machines' profiles.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    """Write RESULTS.md next to this file."""
    path = common.BENCH_DIR / "RESULTS.md"
    path.write_text(render())
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
