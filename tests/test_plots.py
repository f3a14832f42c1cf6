"""lrlab.reports.plots and the report figures: what a reader of the figures notices.

Rates and metrics share one x convention, the rate axis starts at 0, legends
sit below the axes, narrow log axes read as plain numbers, bands over seeds
stay light, and nothing switches matplotlib's global state.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

import lrlab
from lrlab.lab.store import JobResults, read_results, results_from_records
from lrlab.reports.job import job_figures
from lrlab.reports.plots import find_lr_figure, plot_schedules, png_bytes, save_figure, schedules_figure
from report_folders import job_folder

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def in_memory_job(rates: dict[str, list[float]], seeds: int = 1, loss: float = 2.3) -> JobResults:
    """A job kept in memory: one run per label and seed at the given rate per epoch; losses barely move."""
    records: list[dict[str, Any]] = []
    for i, (label, lrs) in enumerate(rates.items()):
        for seed in range(seeds):
            run_id = f"r{i}-{seed}"
            records.append({"type": "run", "run_id": run_id, "label": label, "schedule": "constant(0.3)",
                            "seed": seed, "per": "epoch", "epochs": len(lrs)})  # fmt: skip
            for epoch, lr in enumerate(lrs, 1):
                value = loss - 0.003 * epoch - 0.001 * seed - 0.0001 * i
                records.append({"type": "epoch", "run_id": run_id, "epoch": epoch, "train_loss": value,
                                "test_loss": value + 0.01, "test_acc": 0.5 + 0.01 * epoch,
                                "lr_first": lr, "lr_last": lr, "diverged": False})  # fmt: skip
    job = {
        "experiment": {"name": "made-up", "metrics": ["train_loss", "test_loss", "test_acc"], "goal": "max:test_acc"}
    }
    return results_from_records(records, job)


def tick_labels(fig: Figure) -> list[str]:
    """Every tick label (major and minor, both axes) of every axes, as drawn."""
    png_bytes(fig)  # draw: the labels exist only then
    out = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            out += [t.get_text() for t in axis.get_ticklabels(which="both") if t.get_visible()]
    return out


# -- rates ------------------------------------------------------------------------------------------------
def test_the_rate_axis_starts_at_zero_even_for_a_tiny_change() -> None:
    fig = job_figures(in_memory_job({"nearly constant": [0.300, 0.299, 0.298]}))["lr"]
    ax = fig.axes[0]
    assert ax.get_ylim()[0] == 0  # a 0.6% change stays a 0.6% change
    assert ax.get_ylim()[1] >= 0.3


def test_rates_and_metrics_share_the_x_convention() -> None:
    rates = [0.3, 0.2, 0.1, 0.05]
    figures = job_figures(in_memory_job({"steps": rates}))
    (rate,) = figures["lr"].axes[0].get_lines()
    # the rate of epoch k (from 1) is drawn over (k-1, k]: x from 0 to the epochs done
    assert list(rate.get_xdata()) == [0, 1, 2, 3, 4]
    assert list(rate.get_ydata())[1:] == rates and rate.get_drawstyle() == "steps-pre"
    # and that epoch's metrics at x = k
    for ax in figures["compare"].axes:
        for line in ax.get_lines():
            assert list(line.get_xdata()) == [1, 2, 3, 4]
    assert "(k-1, k]" in figures["lr"].axes[0].get_xlabel()


def test_per_step_rates_follow_the_schedule_through_each_epoch(tmp_path: Path) -> None:
    folder = job_folder(tmp_path / "job")
    text = (folder / "metrics.jsonl").read_text().replace('"per": "epoch"', '"per": "step"')
    (folder / "metrics.jsonl").write_text(text)
    lines = job_figures(read_results(folder))["lr"].axes[0].get_lines()
    cosine = next(line for line in lines if line.get_label() == "cosine")
    x, y = np.asarray(cosine.get_xdata()), np.asarray(cosine.get_ydata())
    assert len(x) == 3 * 8 + 1 and x[-1] == 3  # 8 updates per epoch, drawn within (k-1, k]
    assert y[1:] == pytest.approx(lrlab.parse("cosine(0.3, steps=20, final_lr=0.01)")(np.arange(24.0)))


def test_legends_sit_below_the_axes_not_over_lines() -> None:
    fig = job_figures(in_memory_job({f"schedule {i}": [0.1 * i, 0.05 * i] for i in range(1, 4)}))["lr"]
    png_bytes(fig)
    ax = fig.axes[0]
    assert ax.get_legend() is None and len(fig.legends) == 1
    legend = fig.legends[0].get_window_extent()
    assert legend.y1 <= ax.get_tightbbox().y0 + 1  # below the axes and their labels


# -- log axes ---------------------------------------------------------------------------------------------
def test_a_narrow_log_axis_reads_as_plain_numbers() -> None:
    narrow = lrlab.parse("cosine(2.3, steps=10, final_lr=2.28)")
    fig = schedules_figure([narrow], 10, log_y=True)
    labels = tick_labels(fig)
    assert fig.axes[0].get_yscale() == "log"
    assert [t for t in labels if "times" in t or "^" in t] == []
    assert any(t.startswith("2.2") or t.startswith("2.3") for t in labels)  # plain numbers are there
    flat = tick_labels(schedules_figure([lrlab.parse("constant(0.3)")], 5, log_y=True))
    assert [t for t in flat if "times" in t or "^" in t] == [] and "0.3" in flat


def test_a_log_axis_over_one_to_three_decades_has_plain_labels() -> None:
    fig = schedules_figure([lrlab.parse("cosine(1.0, steps=20, final_lr=0.03)")], 20, log_y=True)
    labels = [t for t in tick_labels(fig) if t]
    assert [t for t in labels if "times" in t or "^" in t] == []
    assert "0.1" in labels and "1" in labels


def test_narrow_losses_are_not_drawn_on_a_log_axis() -> None:
    fig = job_figures(in_memory_job({"a": [0.3] * 5, "b": [0.1] * 5}))["compare"]
    labels = tick_labels(fig)
    assert [t for t in labels if "times" in t] == []
    loss = next(ax for ax in fig.axes if ax.get_title() == "train loss")
    assert loss.get_yscale() == "linear"  # 2.28..2.30 is not a decade


# -- bands over seeds -------------------------------------------------------------------------------------
def test_bands_stay_light_and_many_lines_thin_with_the_legend_outside() -> None:
    rates = {f"setting {i}": [0.1, 0.05, 0.01] for i in range(8)}
    fig = job_figures(in_memory_job(rates, seeds=3))["compare"]
    bands = [c for ax in fig.axes for c in ax.collections if isinstance(c, PolyCollection)]
    assert bands and all((c.get_alpha() or 1.0) <= 0.15 for c in bands)
    assert all(line.get_linewidth() <= 1.0 for ax in fig.axes for line in ax.get_lines())
    assert all(ax.get_legend() is None for ax in fig.axes) and len(fig.legends) == 1
    few = job_figures(in_memory_job({"a": [0.1, 0.05]}, seeds=3))["compare"]
    assert all(line.get_linewidth() > 1.0 for ax in few.axes for line in ax.get_lines())


# -- the range test ---------------------------------------------------------------------------------------
def _find_lr_result(**changes: Any) -> Any:
    pytest.importorskip("torch")
    from lrlab.lab.findlr import FindLRResult

    lrs = tuple(float(x) for x in np.geomspace(1e-4, 1.0, 40))
    losses = tuple(2.0 - 0.8 * math.tanh(10 * lr) + (3 * lr) ** 4 for lr in lrs)
    fields: dict[str, Any] = {"steepest_lr": 0.05, "min_loss_lr": 0.3, "decade_lr": 0.03}
    fields.update(changes)
    return FindLRResult(
        lrs, losses, losses, fields["steepest_lr"], fields["min_loss_lr"], fields["decade_lr"],
        "reached the end rate", None, 1e-4, 1.0, 40, 0.98, 4.0,
        step_mode=fields.get("step_mode", "exp"), validation=fields.get("validation", False),
    )  # fmt: skip


def test_find_lr_figure_says_the_suggestion_in_the_consoles_words() -> None:
    result = _find_lr_result()
    fig = find_lr_figure(result, title="range test")
    texts = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert f"suggested: {result.rule_text}" in texts
    assert result.rule_text.startswith("0.03 (one decade below the minimum")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "training loss"
    linear = find_lr_figure(_find_lr_result(step_mode="linear", validation=True))
    assert linear.axes[0].get_xscale() == "linear" and linear.axes[0].get_ylabel() == "validation loss"
    assert png_bytes(fig).startswith(PNG_MAGIC)


def test_find_lr_figure_without_a_suggestion_says_so() -> None:
    result = _find_lr_result(steepest_lr=None, min_loss_lr=None, decade_lr=None)
    fig = find_lr_figure(result)
    assert fig.axes[0].get_title() == result.rule_text
    assert png_bytes(fig).startswith(PNG_MAGIC)


# -- files ------------------------------------------------------------------------------------------------
def test_save_figure_writes_a_png_creating_folders(tmp_path: Path) -> None:
    fig = schedules_figure([lrlab.parse("constant(0.1)")], 5)
    path = save_figure(fig, tmp_path / "a" / "b" / "f.png")
    assert path == tmp_path / "a" / "b" / "f.png" and path.read_bytes().startswith(PNG_MAGIC)
    assert [p.name for p in path.parent.iterdir()] == ["f.png"]  # no temporary file left


def test_plot_schedules_keeps_its_signature(tmp_path: Path) -> None:
    schedules = [lrlab.parse("cosine(0.3, steps=10)"), lrlab.parse("constant(0.1)")]
    out = plot_schedules(schedules, 10, tmp_path / "s.png", labels=["cos", "const"], log_y=False, grid=True, title="t")
    assert out.read_bytes().startswith(PNG_MAGIC)
    fig = schedules_figure(schedules, 10, labels=["cos", "const"])
    assert fig.axes[0].get_ylim()[0] == 0


# -- global state -----------------------------------------------------------------------------------------
DRAW_EVERYTHING = """
import importlib, pkgutil, sys, json
from pathlib import Path
{prelude}
snapshot = matplotlib.rcParams.copy()
backend = matplotlib.get_backend(auto_select=False)
import lrlab
for module in pkgutil.walk_packages(lrlab.__path__, "lrlab.") if {every_module} else []:
    if module.name.endswith("__main__") or module.name.endswith(".keras"):
        continue  # the command line; the Keras adapter imports keras, which imports pyplot itself
    try:
        importlib.import_module(module.name)
    except ImportError:
        pass  # an optional framework that is not installed (mxnet)
from lrlab.reports.job import job_figures, write_report
from lrlab.reports.sweep import sweep_figures, write_sweep_report
from lrlab.reports.plots import find_lr_figure, png_bytes, schedules_figure
from lrlab.lab.store import read_results
figures = list(job_figures(read_results({job!r})).values()) + list(sweep_figures({sweep!r}).values())
figures.append(schedules_figure([lrlab.parse("cosine(2.3, steps=9, final_lr=2.2)")], 9, log_y=True, grid=True))
if {every_module}:  # torch is imported by then
    from lrlab.lab.findlr import FindLRResult
    r = FindLRResult((0.1, 0.2), (1.0, 0.9), (1.0, 0.9), 0.1, 0.2, 0.02, "reached the end rate", None, 1e-5, 1.0, 2,
                     0.98, 4.0)
    figures.append(find_lr_figure(r))
write_report({job!r}); write_sweep_report({sweep!r})
for fig in figures:
    png_bytes(fig)
print(json.dumps({{
    "pyplot": "matplotlib.pyplot" in sys.modules,
    "rc_same": matplotlib.rcParams.copy() == snapshot,
    "backend_same": matplotlib.get_backend(auto_select=False) == backend,
    "backend": str(matplotlib.get_backend(auto_select=False)),
    "figures": len(figures),
}}))
"""


@pytest.mark.parametrize(
    ("prelude", "every_module"),
    [("import matplotlib", True), ("import matplotlib; matplotlib.use('svg')", False)],
    ids=["import-everything", "a-chosen-backend-stays"],
)
def test_drawing_every_figure_switches_no_global_state(prelude: str, every_module: bool, tmp_path: Path) -> None:
    from report_folders import sweep_folder

    job = job_folder(tmp_path / "job")
    sweep_folder(tmp_path / "sweep")
    code = DRAW_EVERYTHING.format(
        prelude=prelude, every_module=every_module, job=str(job), sweep=str(tmp_path / "sweep")
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    state = json.loads(out.stdout.strip().splitlines()[-1])
    assert state["pyplot"] is False  # no figure manager touched: Jupyter's inline backend stays in charge
    assert state["rc_same"] and state["backend_same"], state
    assert state["figures"] >= 10
    if "svg" in prelude:
        assert state["backend"] == "svg"
