"""The lab from Python: result objects, DataFrames, figures, conclusions, TensorBoard and CSV files."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import lrlab  # noqa: E402
from lrlab.api import JobResult  # noqa: E402

CHEAP = {"epochs": 2, "batch_size": 16, "progress": False}


pytestmark = pytest.mark.usefixtures("one_thread")


def blobs(n: int, seed: int) -> tuple[Any, Any]:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    x = torch.randn(n, 2, generator=g) + torch.stack([y.float(), -y.float()], 1) * 1.5
    return x, y


def experiment(**changes: Any) -> lrlab.Experiment:
    options: dict[str, Any] = {
        "name": "blobs3",
        "data": lrlab.Data(train=blobs(120, 0), test=blobs(60, 1), description="120 + 60 blobs"),
        "model": lambda seed: nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3)),
        "description": "three blobs, an MLP",
    }
    return lrlab.Experiment(**{**options, **changes})


def test_compare_returns_records_a_final_table_and_a_conclusion(tmp_path: Path) -> None:
    specs = {"fast": "constant(0.5)", "slow": "constant(0.001)"}
    result = lrlab.compare(specs, experiment=experiment(), seeds=2, out=tmp_path / "cmp", **CHEAP)
    assert isinstance(result, JobResult) and result.complete and result.folder == tmp_path / "cmp"
    epochs = result.records()
    assert len(epochs) == 2 * 2 * 2  # schedules x seeds x epochs
    assert {(r["label"], r["seed"], r["epoch"]) for r in epochs} == {
        (label, seed, e) for label in specs for seed in (0, 1) for e in (1, 2)
    }
    final = result.records("final")
    assert [row["label"] for row in final] == ["fast", "slow"]  # best first: a rate of 0.001 barely moves
    fast = [r["test_acc"] for r in epochs if r["label"] == "fast" and r["epoch"] == 2]
    assert final[0]["test_acc_mean"] == pytest.approx(np.mean(fast))
    assert final[0]["test_acc_std"] == pytest.approx(np.std(fast, ddof=1))
    assert final[0]["test_acc"].endswith("(2 seeds)") and " ± " in final[0]["test_acc"]
    assert result.conclusion.startswith("Best is fast")
    assert "paired over the same 2 seeds" in result.conclusion
    assert "fast" in result.table() and "95% interval" in result.table()
    assert (tmp_path / "cmp" / "report.md").is_file() and (tmp_path / "cmp" / "report.html").is_file()


def test_to_pandas_gives_the_same_numbers_as_the_records() -> None:
    pandas = pytest.importorskip("pandas")
    result = lrlab.compare(["constant(0.2)", "cosine(0.4, steps=2)"], experiment=experiment(), **CHEAP)
    frame = result.to_pandas()
    assert isinstance(frame, pandas.DataFrame) and len(frame) == 4
    assert list(frame["train_loss"]) == [r["train_loss"] for r in result.records()]
    assert set(result.to_pandas("final")["label"]) == {"constant(0.2)", "cosine(0.4, steps=2)"}
    assert len(result.to_pandas("runs")) == 2


def test_equal_results_are_a_tie_never_a_win() -> None:
    result = lrlab.compare({"a": "constant(0.3)", "b": "constant(0.3)"}, experiment=experiment(), seeds=2, **CHEAP)
    records = result.records("final")
    assert records[0]["test_acc_mean"] == records[1]["test_acc_mean"]
    assert "tie" in result.conclusion.lower() and "Best is" not in result.conclusion


def test_one_seed_says_the_noise_is_unknown() -> None:
    result = lrlab.compare(["constant(0.5)", "constant(0.001)"], experiment=experiment(), **CHEAP)
    assert "seed-to-seed noise is unknown" in result.conclusion


def test_load_reads_back_what_the_job_wrote(tmp_path: Path) -> None:
    result = lrlab.train("cosine(0.4, steps=2)", experiment=experiment(), seed=3, out=tmp_path / "one", **CHEAP)
    again = lrlab.load(tmp_path / "one")
    assert isinstance(again, JobResult)
    assert again.records() == result.records() and again.conclusion == result.conclusion
    assert [r["seed"] for r in again.records()] == [3, 3]
    assert (tmp_path / "one" / "report.html").is_file()  # train writes a report too: a compare of one
    assert "Only one setting" in again.conclusion


def test_a_job_kept_in_memory_has_no_folder_and_says_where_to_write_a_report(tmp_path: Path) -> None:
    result = lrlab.compare(["constant(0.2)"], experiment=experiment(), **CHEAP)
    assert result.folder is None
    with pytest.raises(lrlab.ResultsError, match="give report\\(folder\\)"):
        result.report()
    md, html = result.report(tmp_path / "later")
    assert md.is_file() and html.is_file()


def test_figures_come_back_without_touching_matplotlibs_global_state() -> None:
    import matplotlib
    from matplotlib.figure import Figure

    before = (matplotlib.get_backend(auto_select=False), matplotlib.rcParams.copy())  # copy(): no backend resolution
    result = lrlab.compare(["constant(0.2)", "constant(0.05)"], experiment=experiment(), **CHEAP)
    figures = result.plot()
    assert {"lr", "compare"} <= set(figures) and all(isinstance(f, Figure) for f in figures.values())
    assert (matplotlib.get_backend(auto_select=False), matplotlib.rcParams.copy()) == before


def test_plotting_never_imports_pyplot_or_sets_a_backend(tmp_path: Path) -> None:
    code = (
        "import sys, matplotlib, lrlab\n"
        "backend = matplotlib.get_backend(auto_select=False)\n"  # plain get_backend() would import pyplot itself
        "from lrlab.api import JobResult\n"
        "from lrlab.lab.store import read_results\n"
        f"figures = JobResult(read_results({str(tmp_path / 'job')!r})).plot()\n"
        "same = matplotlib.get_backend(auto_select=False) == backend\n"
        "print('matplotlib.pyplot' in sys.modules, same, len(figures))\n"
    )
    lrlab.compare(["constant(0.2)"], experiment=experiment(), out=tmp_path / "job", report=False, **CHEAP)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "3"]


# -- the files people watch ------------------------------------------------------------------------------------
def test_tensorboard_logs_the_rate_of_every_update_and_the_metrics_of_every_epoch(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    schedule = lrlab.parse("warmup(cosine(0.4, steps=10, final_lr=0.01), steps=4)")
    out = tmp_path / "tb"
    result = lrlab.compare([schedule], experiment=experiment(), per="step", out=out, tensorboard=True, **CHEAP)
    (run_dir,) = (out / "tensorboard").iterdir()
    events = EventAccumulator(str(run_dir))
    events.Reload()
    lrs = events.Scalars("lr")
    updates = 2 * math.ceil(120 / 16)
    assert [e.step for e in lrs] == list(range(updates))
    np.testing.assert_allclose([e.value for e in lrs], schedule(np.arange(updates)), rtol=1e-6)  # float32 events
    records = result.records()
    for tag, key in (("train/loss", "train_loss"), ("test/acc", "test_acc")):
        scalars = events.Scalars(tag)
        assert [e.step for e in scalars] == [updates // 2 - 1, updates - 1]  # each epoch's last update
        np.testing.assert_allclose([e.value for e in scalars], [r[key] for r in records], rtol=1e-6)


def test_tensorboard_per_epoch_draws_rate_and_metrics_at_the_same_epoch(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "tb"
    lrlab.compare(["cosine(0.4, steps=2)"], experiment=experiment(), out=out, **CHEAP)  # on by default if installed
    (run_dir,) = (out / "tensorboard").iterdir()
    events = EventAccumulator(str(run_dir))
    events.Reload()
    assert [(e.step, round(e.value, 6)) for e in events.Scalars("lr")] == [(1, 0.4), (2, 0.2)]
    assert [e.step for e in events.Scalars("test/loss")] == [1, 2]


def test_the_csv_table_holds_the_json_lines_numbers(tmp_path: Path) -> None:
    lrlab.compare(["constant(0.2)", "constant(0.1)"], experiment=experiment(), seeds=2, out=tmp_path / "c", **CHEAP)
    with (tmp_path / "c" / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    records = [json.loads(line) for line in (tmp_path / "c" / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in records if r["type"] == "epoch"]
    assert len(rows) == len(epochs) == 8
    for row, rec in zip(rows, epochs, strict=True):
        assert row["run_id"] == rec["run_id"] and int(row["epoch"]) == rec["epoch"]
        for key in ("train_loss", "train_acc", "test_loss", "test_acc", "lr_first"):
            assert float(row[key]) == rec[key]  # repr round-trips a float exactly
    assert {row["label"] for row in rows} == {"constant(0.2)", "constant(0.1)"}


def test_bad_calls_name_the_argument() -> None:
    with pytest.raises(lrlab.LrlabError, match="compare needs at least one schedule"):
        lrlab.compare([], experiment=experiment(), **CHEAP)
    with pytest.raises(lrlab.LrlabError, match="seeds must be a count >= 1"):
        lrlab.compare(["constant(0.1)"], experiment=experiment(), seeds=[], **CHEAP)
    with pytest.raises(lrlab.TrainError, match="tensorboard=True needs an output folder"):
        lrlab.compare(["constant(0.1)"], experiment=experiment(), tensorboard=True, **CHEAP)
    with pytest.raises(lrlab.LrlabError, match="kind must be 'epochs', 'runs' or 'final'"):
        lrlab.compare(["constant(0.1)"], experiment=experiment(), **CHEAP).records("all")
