"""A user's own experiment (examples/residual_cnn.py, not a LeNet) through every command, on real Fashion-MNIST.

The example trains on the first `LIMIT` images of each split of Debian's
``dataset-fashion-mnist`` (which ``make setup`` installs), so the whole file
runs in well under a minute; the notebook in ``examples/`` is executed too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import lrlab  # noqa: E402
from lrlab.cli import main  # noqa: E402
from lrlab.lab.data import find_fashion_mnist  # noqa: E402
from lrlab.lab.store import read_results  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "residual_cnn.py"
NOTEBOOK = ROOT / "examples" / "compare_your_model.ipynb"
LIMIT = "600"
TIMING = {"seconds", "epoch_seconds", "run_id"}


@pytest.fixture(autouse=True)
def small_real_data(monkeypatch: pytest.MonkeyPatch) -> None:
    if find_fashion_mnist() is None:
        pytest.fail("the real Fashion-MNIST is needed: `make setup` installs dataset-fashion-mnist")
    monkeypatch.setenv("LRLAB_EXAMPLE_LIMIT", LIMIT)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def numbers(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def test_compare_with_two_seeds_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    argv = ["compare", "constant(0.003)", "warmup(cosine(0.01, steps=1), steps=1)", "--seeds", "2", "--epochs", "2"]
    assert main([*argv, "--experiment", str(EXAMPLE), "--batch-size", "100", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "paired over the same 2 seeds" in printed or "tie" in printed.lower()
    results = read_results(out)
    assert results.job["experiment"]["name"] == "fashion-mnist-residual-cnn"
    assert results.job["identity"]["config"]["optimizer"] == "adamw(weight_decay=0.05)"
    assert results.job["experiment"]["test_examples"] == int(LIMIT)
    assert len(results.runs) == 4 and all(len(r.epochs) == 2 for r in results.runs)
    md = (out / "report.md").read_text()
    assert "fashion-mnist-residual-cnn" in md and "10,000" not in md and "Conclusion" in md
    # the report is drawn again from the files alone, and lrlab.load gives the same conclusion
    assert main(["report", str(out)]) == 0
    assert lrlab.load(out).conclusion in printed


def test_the_same_from_python_with_the_same_numbers(tmp_path: Path) -> None:
    specs = ["constant(0.003)"]
    from_cli = tmp_path / "cli"
    assert (
        main(
            [
                "train",
                "--schedule",
                specs[0],
                "--epochs",
                "1",
                "--batch-size",
                "100",
                "--experiment",
                str(EXAMPLE),
                "--out",
                str(from_cli),
                "--quiet",
            ]
        )
        == 0
    )
    result = lrlab.train(specs[0], experiment=str(EXAMPLE), epochs=1, batch_size=100, progress=False)
    assert numbers(result.records()) == numbers(lrlab.load(from_cli).records())


def test_a_killed_job_resumes_to_the_numbers_of_an_uninterrupted_one(tmp_path: Path) -> None:
    argv = [
        "compare",
        "constant(0.003)",
        "constant(0.001)",
        "--epochs",
        "3",
        "--batch-size",
        "50",
        "--experiment",
        str(EXAMPLE),
        "--quiet",
        "--no-report",
    ]
    env = {**os.environ, "LRLAB_EXAMPLE_LIMIT": LIMIT, "OMP_NUM_THREADS": "1"}
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert main([*argv, "--out", str(whole)]) == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "lrlab", *argv, "--out", str(killed)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    metrics = killed / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if metrics.exists() and '"epoch": 1,' in metrics.read_text():
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not read_results(killed).complete
    assert main([*argv, "--out", str(killed), "--resume"]) == 0
    for a, b in zip(read_results(whole).runs, read_results(killed).runs, strict=True):
        assert numbers(a.epochs) == numbers(b.epochs)


def test_a_diverging_run_is_isolated(tmp_path: Path) -> None:
    result = lrlab.compare(
        {"sane": "constant(0.003)", "huge": "constant(1e30)"},
        experiment=str(EXAMPLE),
        epochs=2,
        batch_size=100,
        progress=False,
    )
    runs = {r["label"]: r for r in result.records("runs")}
    assert runs["huge"]["diverged_epoch"] == 1 and runs["sane"]["diverged_epoch"] is None
    assert runs["sane"]["epochs"] == 2 and result.conclusion.startswith("Only one setting")


def test_sweep_locally_and_on_ray_give_the_same_trials(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    grid = {"lr": [0.001, 0.004]}
    local = lrlab.sweep(
        "constant({lr})",
        grid=grid,
        epochs=1,
        batch_size=100,
        experiment=str(EXAMPLE),
        out=tmp_path / "local",
        progress=False,
    )
    assert local.complete and len(local.records()) == 2
    argv = [
        "sweep",
        "constant({lr})",
        "--grid",
        "lr=0.001,0.004",
        "--epochs",
        "1",
        "--batch-size",
        "100",
        "--experiment",
        str(EXAMPLE),
        "--backend",
        "ray",
        "--max-concurrent",
        "2",
        "--out",
        str(tmp_path / "ray"),
        "--quiet",
    ]
    assert main(argv) == 0
    remote = lrlab.load(tmp_path / "ray")
    key = ("trial_id", "train_loss", "test_acc", "test_loss")
    assert [{k: r[k] for k in key} for r in remote.records()] == [{k: r[k] for k in key} for r in local.records()]
    assert remote.conclusion == local.conclusion and (tmp_path / "ray" / "report.html").is_file()


def test_find_lr_suggests_and_applies_a_rate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "lr"
    argv = ["find-lr", "--experiment", str(EXAMPLE), "--steps", "30", "--batch-size", "50", "--start", "1e-5"]
    assert main([*argv, "--end", "1", "--out", str(out), "--apply", "--quiet"]) == 0
    printed = capsys.readouterr().out
    record = json.loads((out / "find-lr.json").read_text())
    assert record["config"]["experiment"] == "fashion-mnist-residual-cnn"
    assert record["config"]["optimizer"] == "adamw(weight_decay=0.05)"
    assert (out / "find-lr.png").read_bytes().startswith(b"\x89PNG")
    rule = record["result"]["rule_text"]
    assert f"suggested maximum learning rate: {rule}" in printed
    spec = (out / "schedule.txt").read_text().strip()
    lr = float(f"{record['result']['suggested_lr']:.3g}")
    assert lrlab.parse(spec) == lrlab.cosine(lr, steps=30)
    result = lrlab.find_lr(str(EXAMPLE), steps=30, batch_size=50, start=1e-5, end=1, progress=False)
    assert list(result.lrs) == record["result"]["lrs"]  # the same test from Python
    assert result.schedule("one_cycle({lr}, steps=100)").max_lr == lr


def test_the_notebook_runs_and_shows_a_dataframe_and_figures() -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("<table" in h and "train_loss" in h for h in html)  # a DataFrame
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # the two figures, inline
    text = "".join(o.get("text", "") for o in outputs)
    assert "paired over the same 2 seeds" in text or "tie" in text.lower()
