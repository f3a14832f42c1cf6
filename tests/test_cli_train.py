"""``lrlab train``, ``lrlab compare`` and ``lrlab report`` on synthetic data given with ``--data``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from fixtures_data import write_dataset  # noqa: E402
from lrlab.cli import main  # noqa: E402
from lrlab.lab.store import read_results  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def syn(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write_dataset(tmp_path_factory.mktemp("syn"), n_train=300, n_test=60))


def test_train_records_every_epoch(syn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    spec = "cosine(0.3, steps=2, final_lr=0.01)"
    argv = ["train", "--schedule", spec, "--epochs", "2", "--batch-size", "64", "--seed", "3"]
    code = main([*argv, "--data", syn, "--out", str(out), "--quiet"])
    assert code == 0
    text = capsys.readouterr().out
    assert "epoch 1/2" in text and "epoch 2/2" in text and "test acc" in text
    (run,) = read_results(out).runs
    assert run.config["schedule"] == spec and run.config["seed"] == 3 and run.config["batch_size"] == 64
    assert [r["lr_first"] for r in run.epochs] == [0.3, pytest.approx(0.155)]


def test_train_per_step(syn: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = [
        "train",
        "--schedule",
        "linear(0.2, end_lr=0.0, steps=10)",
        "--epochs",
        "1",
        "--per",
        "step",
        "--batch-size",
        "64",
    ]
    assert main([*argv, "--data", syn, "--out", str(out), "--quiet"]) == 0
    (rec,) = read_results(out).runs[0].epochs
    assert rec["lr_first"] == 0.2 and rec["lr_last"] == pytest.approx(0.2 * (1 - 4 / 10))  # 5 updates


def test_compare_writes_the_report(syn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    specs = ["constant(0.3)", "square_root(0.1)"]
    argv = ["compare", *specs, "--seeds", "2", "--epochs", "2", "--batch-size", "100"]
    assert main([*argv, "--data", syn, "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"report: {out / 'report.md'}" in printed
    md = (out / "report.md").read_text()
    sentence = next(line for line in printed.splitlines() if "paired over the same 2 seeds" in line or "tie" in line)
    assert sentence in md  # the console's conclusion is the report's
    for spec in specs:
        (row,) = [line for line in md.splitlines() if line.startswith(f"| `{spec}`")]
        assert row.count(" ± ") == 4 and row.count("(2 seeds)") == 4 and "| 2 |" in row  # 4 metrics, mean ± std
    assert (out / "report.html").read_text().count("data:image/png;base64,") == 4  # rates, side by side, 2 schedules
    results = read_results(out)
    assert {(r.config["schedule"], r.seed) for r in results.runs} == {(s, k) for s in specs for k in (0, 1)}

    # the report can be drawn again from the files alone
    (out / "report.md").unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "report.md").read_text() == md


def test_compare_the_chapter_preset(syn: str, tmp_path: Path) -> None:
    out = tmp_path / "chapter"
    assert main(["compare", "--preset", "chapter", "--epochs", "1", "--data", syn, "--out", str(out), "--quiet"]) == 0
    results = read_results(out)
    assert [r.label for r in results.runs] == [
        "constant",
        "square root",
        "multi-factor",
        "cosine",
        "cosine with warmup",
    ]
    assert results.runs[0].config["batch_size"] == 256 and results.runs[0].config["per"] == "epoch"
    assert [r.epochs[0]["lr_first"] for r in results.runs] == [0.3, 0.1, 0.5, 0.3, 0.0]
    md = (out / "report.md").read_text()
    assert "0.145 / 0.944 / 0.877 (after 30 epochs; this run: 1)" in md


def test_compare_resumes_from_the_folder_alone(syn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp"
    common = ["--epochs", "1", "--batch-size", "100", "--data", syn, "--out", str(out), "--quiet"]
    assert main(["compare", "constant(0.2)", *common]) == 0
    before = (out / "metrics.jsonl").read_text()
    assert main(["compare", "--resume", "--out", str(out), "--data", syn, "--quiet", "--no-report"]) == 0
    assert (out / "metrics.jsonl").read_text() == before
    assert "constant(0.2)" in capsys.readouterr().out


def test_progress_bar_on_a_terminal(syn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    out = tmp_path / "run"
    code = main(["train", "--schedule", "constant(0.2)", "--epochs", "2", "--data", syn, "--out", str(out)])
    assert code == 0 and read_results(out).complete


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--schedule", "cosine(0.3, stepz=20)"], "stepz"),
        (["train", "--schedule", "constant(0.3)", "--data", "/no/such/folder"], "'/no/such/folder' is not a folder"),
        (["compare"], "compare needs at least one SPEC or --preset"),
        (["compare", "--preset", "chapterr"], "unknown preset 'chapterr'"),
        (["report", "/no/such/results"], "'/no/such/results' does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A refusal after the arguments parsed is exit 1; argparse keeps 2 for usage errors."""
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_an_existing_folder_needs_resume(syn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "--schedule", "constant(0.2)", "--epochs", "1", "--data", syn, "--out", str(tmp_path), "--quiet"]
    assert main(argv) == 0
    assert main(argv) == 1
    assert "pass --resume to continue it" in capsys.readouterr().err
    job = json.loads((tmp_path / "job.json").read_text())
    assert job["identity"]["runs"][0]["schedule"] == "constant(0.2)"


def test_numbers_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["train", "--schedule", "constant(0.2)", "--epochs", "0"])
    assert exc.value.code == 2
    assert "--epochs: must be > 0; got 0" in capsys.readouterr().err


def test_a_bad_experiment_is_one_line_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "mine.py"
    bad.write_text("def make_experiment():\n    raise RuntimeError('no data here')\n")
    for ref, message in (
        (str(bad), "its factory raised RuntimeError: no data here"),
        ("nosuch.mod:f", "cannot import"),
    ):
        for command in (["compare", "constant(0.1)"], ["sweep", "constant({lr})", "--grid", "lr=0.1"], ["find-lr"]):
            out = tmp_path / "out"
            assert main([*command, "--experiment", ref, "--out", str(out), "--quiet"]) == 1
            err = capsys.readouterr().err
            assert f"experiment {ref!r}" in err and message in err and err.count("\n") == 1, err
            assert not out.exists()
