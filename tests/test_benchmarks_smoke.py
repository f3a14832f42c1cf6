"""The benchmark scripts run end to end in their tiny ``--smoke`` mode and print their ratio lines.

No timing is asserted (timings belong to ``make bench``); this only keeps the scripts from rotting.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import re
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = ("bench_scheduler", "bench_throughput", "bench_memory", "bench_chapter", "bench_workers")
# a ratio line: a number with its unit, or an honest "not available yet"
RATIO = re.compile(r"^ratio  .+?(\d[\d.,]*(x|%| min) \(|not available yet)")


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Run every script once with ``--smoke``; their printed outputs, by script."""
    import torch

    sys.path.insert(0, str(BENCH))
    out_dir = tmp_path_factory.mktemp("bench")
    outputs: dict[str, str] = {}
    threads = torch.get_num_threads()
    # one thread: two OpenMP threads on a busy 2-core machine can be several times slower (nothing is timed here)
    torch.set_num_threads(1)
    try:
        for name in SCRIPTS:
            module: Any = importlib.import_module(name)
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                assert module.main(["--smoke", "--out-dir", str(out_dir)]) == 0
            outputs[name] = buffer.getvalue()
    finally:
        sys.path.remove(str(BENCH))
        torch.set_num_threads(threads)
    return out_dir, outputs


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_prints_ratio_lines(smoke_runs: tuple[Path, dict[str, str]], name: str) -> None:
    out_dir, outputs = smoke_runs
    lines = [ln for ln in outputs[name].splitlines() if ln.startswith("ratio ")]
    assert lines, outputs[name]
    for line in lines:
        assert RATIO.match(line), line
        if "target" in line:
            assert line.rstrip().endswith(("PASS", "MISS")), line
    assert (out_dir / f"{name.removeprefix('bench_')}.json").is_file()


def test_scheduler_targets_are_reported(smoke_runs: tuple[Path, dict[str, str]]) -> None:
    # lrlab.torch exists, so its rows are always measured, never "not available"
    text = smoke_runs[1]["bench_scheduler"]
    assert "MultiStepLR / lrlab multistep" in text
    assert "torch loop / lrlab vectorised" in text
    assert "not available" not in text


@pytest.mark.parametrize("name", ["bench_throughput", "bench_chapter", "bench_memory", "bench_workers"])
def test_lrlabs_trainer_is_measured_not_skipped(smoke_runs: tuple[Path, dict[str, str]], name: str) -> None:
    """The trainer exists, so a benchmark that says "not available yet" lost track of its API."""
    text = smoke_runs[1][name]
    assert "not available" not in text, text


def test_book_baseline_is_measured(smoke_runs: tuple[Path, dict[str, str]]) -> None:
    text = smoke_runs[1]["bench_throughput"]
    assert re.search(r"\(a\) book loop .*\d[\d,]* \(", text), text


def test_results_md_renders(smoke_runs: tuple[Path, dict[str, str]]) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        report: Any = importlib.import_module("report")
        text = report.render(smoke_runs[0])
    finally:
        sys.path.remove(str(BENCH))
    for title in ("1. Training throughput", "2. The chapter's whole job", "3. Scheduler overhead", "4. Peak memory"):
        assert f"## {title}" in text
    assert "## GPU" in text
    assert "SMOKE RUN" in text


def test_the_kernel_levers_script_measures_each_lever_and_keeps_the_stock_pooling_exact() -> None:
    import subprocess

    run = subprocess.run(
        [sys.executable, str(BENCH / "levers.py"), "--smoke"], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stdout + run.stderr  # nonzero: the stock-op pooling trained other numbers
    assert "trains bitwise like max_pool2d after 3 steps: True" in run.stdout
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("ratio ")]
    assert {ln.split()[1] for ln in lines} >= {"native", "stockpool"}, run.stdout
    assert all(RATIO.match(ln) for ln in lines), lines
