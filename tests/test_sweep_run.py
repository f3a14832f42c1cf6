"""Running sweeps into folders (`lrlab.sweeps.run`), their reports (`lrlab.reports.sweep`) and ``lrlab sweep``.

All on a small synthetic IDX data set, so no test needs the real Fashion-MNIST.
Expected numbers are recomputed here from the trials' own ``metrics.jsonl``.
"""

from __future__ import annotations

import base64
import json
import math
import re
import shutil
import statistics
from pathlib import Path
from typing import Any

import pytest

from fixtures_data import write_dataset
from lrlab.cli import main
from lrlab.lab.data import load_fashion_mnist
from lrlab.lab.store import read_results
from lrlab.reports.sweep import is_sweep_folder, write_sweep_report
from lrlab.sweeps.backends import BACKENDS, get_backend, register_backend
from lrlab.sweeps.run import SweepJob, run_sweep
from lrlab.sweeps.sweep import Sweep, SweepError, expand

#: Student's t 0.975 quantile with 1 degree of freedom (two seeds), from tables
T_975_DF1 = 12.706204736174707

TEMPLATE = "cosine({lr}, steps=2)"


def tiny_sweep(**changes: Any) -> Sweep:
    fields: dict[str, Any] = {
        "template": TEMPLATE,
        "grid": {"lr": (0.3, 0.6)},
        "seeds": (0, 1),
        "epochs": 2,
        "options": {"batch_size": 64},
        "name": "tiny",
    }
    fields.update(changes)
    return Sweep(**fields)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("data"), n_train=256, n_test=100)


@pytest.fixture(scope="module")
def data(data_dir: Path) -> Any:
    return load_fashion_mnist(data_dir)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, data: Any) -> Path:
    """The tiny sweep, run once without interruption on the local backend."""
    out = tmp_path_factory.mktemp("reference") / "sweep"
    run_sweep(tiny_sweep(), out, data=data, quiet=True)
    return out


def trial_folders(out: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted((out / "trials").iterdir())}


def final_epoch(folder: Path) -> dict[str, Any]:
    """The last epoch record of a trial's metrics file, read line by line."""
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [r for r in records if r.get("type") == "epoch"][-1]


def finals(out: Path) -> dict[str, dict[str, Any]]:
    return {name: final_epoch(folder) for name, folder in trial_folders(out).items()}


# -- the local backend ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_local_sweep_writes_one_trainer_folder_per_trial(reference: Path) -> None:
    sweep = tiny_sweep()
    folders = trial_folders(reference)
    assert sorted(folders) == sorted(t.trial_id for t in expand(sweep))
    stored = json.loads((reference / "sweep.json").read_text())
    assert stored["fingerprint"] == sweep.fingerprint
    assert stored["sweep"]["template"] == TEMPLATE
    assert {"lrlab", "torch"} <= set(stored["versions"])
    for trial in expand(sweep):
        folder = folders[trial.trial_id]
        assert {"metrics.jsonl", "checkpoint.pt", "trial.json", "result.json"} <= {p.name for p in folder.iterdir()}
        info = json.loads((folder / "trial.json").read_text())
        assert info["params"] == {"lr": trial.params["lr"]}
        assert info["seed"] == trial.seed
        assert info["spec"] == f"cosine({trial.params['lr']}, steps=2)"
        assert info["status"] == "done"
        epochs = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
        assert [r["epoch"] for r in epochs if r["type"] == "epoch"] == [1, 2]
        assert epochs[-1]["type"] == "end"
    lines = [json.loads(x) for x in (reference / "results.jsonl").read_text().splitlines()]
    assert [r["trial_id"] for r in lines] == [t.trial_id for t in expand(sweep)]
    for line in lines:
        assert line["metrics"]["test_acc"] == final_epoch(folders[line["trial_id"]])["test_acc"]


@pytest.mark.slow
def test_rerunning_a_finished_sweep_trains_nothing(reference: Path, data: Any, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (out / "trials").rglob("*") if p.is_file()}
    outcome = run_sweep(tiny_sweep(), out, data=data, quiet=True)
    assert outcome.ran == []
    assert len(outcome.skipped) == 4
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (out / "trials").rglob("*") if p.is_file()}
    assert after == before


class Interrupt(Exception):
    pass


@pytest.mark.slow
def test_interrupted_sweep_resumes_to_the_same_numbers(reference: Path, data: Any, tmp_path: Path) -> None:
    from lrlab.lab.train import Listener

    class StopThirdTrialAfterEpoch1(Listener):
        trials = 0

        def started(self, trainer: Any) -> None:
            type(self).trials += 1

        def epoch(self, epoch: int, records: list[dict[str, Any]]) -> None:
            if type(self).trials == 3 and epoch == 1:
                raise Interrupt

    out = tmp_path / "sweep"
    sweep = tiny_sweep()
    with pytest.raises(Interrupt):
        run_sweep(sweep, out, data=data, quiet=True, listener=StopThirdTrialAfterEpoch1())
    ids = [t.trial_id for t in expand(sweep)]
    folders = trial_folders(out)
    assert sorted(folders) == sorted(ids[:3])
    cut = folders[ids[2]]
    assert not (cut / "result.json").exists()
    assert json.loads((cut / "trial.json").read_text())["status"] == "running"
    assert final_epoch(cut)["epoch"] == 1
    finished = {p: (p.stat().st_mtime_ns, p.read_bytes()) for i in ids[:2] for p in folders[i].iterdir()}
    done = [json.loads(x)["trial_id"] for x in (out / "results.jsonl").read_text().splitlines()]
    assert done == ids[:2]

    outcome = run_sweep(sweep, out, data=data, quiet=True)
    assert outcome.skipped == ids[:2]
    assert outcome.ran == ids[2:]
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in finished} == finished
    # the cut trial continued from epoch 1 rather than starting again: one run record, epochs 1 and 2
    records = [json.loads(x) for x in (cut / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if r["type"] == "epoch"] == [1, 2]
    mine, theirs = finals(out), finals(reference)
    assert sorted(mine) == sorted(theirs)
    for tid in mine:
        for key in ("train_loss", "train_acc", "test_acc", "lr_first", "lr_last"):
            assert mine[tid][key] == theirs[tid][key], (tid, key)


@pytest.mark.slow
def test_a_trial_without_its_completion_marker_is_finished_again(reference: Path, data: Any, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    tid = expand(tiny_sweep())[1].trial_id
    (out / "trials" / tid / "result.json").unlink()
    outcome = run_sweep(tiny_sweep(), out, data=data, quiet=True)
    assert outcome.ran == [tid]
    assert (out / "trials" / tid / "result.json").is_file()
    assert final_epoch(out / "trials" / tid) == final_epoch(reference / "trials" / tid)


def test_a_folder_holding_another_sweep_is_refused(reference: Path, data: Any, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    with pytest.raises(SweepError, match=r"another sweep.*epochs: the folder has 2, this sweep 3"):
        run_sweep(tiny_sweep(epochs=3), out, data=data, quiet=True)
    with pytest.raises(SweepError, match=r"grid: the folder has \{'lr': \[0.3, 0.6\]\}"):
        run_sweep(tiny_sweep(grid={"lr": (0.1, 0.2)}), out, data=data, quiet=True)
    assert not (out / "trials" / expand(tiny_sweep(grid={"lr": (0.2,)}))[0].trial_id).exists()


def test_bad_arguments_are_named(tmp_path: Path, data: Any) -> None:
    with pytest.raises(SweepError, match=r"backend must be 'local' or 'ray'; got backend='slurm'"):
        run_sweep(tiny_sweep(), tmp_path / "a", backend="slurm", data=data)
    with pytest.raises(SweepError, match=r"asha=True needs backend='ray'; got backend='local'"):
        run_sweep(tiny_sweep(), tmp_path / "a", asha=True, data=data)
    with pytest.raises(SweepError, match=r"address='ray://x:1' needs backend='ray'; got backend='local'"):
        run_sweep(tiny_sweep(), tmp_path / "a", address="ray://x:1", data=data)
    with pytest.raises(SweepError, match=r"training config has no option 'momentum'; valid names are batch_size"):
        run_sweep(tiny_sweep(options={"momentum": 0.9}), tmp_path / "a", data=data)
    with pytest.raises(SweepError, match=r"judged by 'test_error', which experiment 'fashion-mnist-lenet' does not"):
        run_sweep(tiny_sweep(conclusion_metric="min:test_error"), tmp_path / "a", data=data)
    assert not (tmp_path / "a").exists()  # refused before anything was written
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(SweepError, match=r"is not empty and holds no sweep.json"):
        run_sweep(tiny_sweep(), tmp_path / "full", data=data)


# -- backends -------------------------------------------------------------------------------------------
def test_backends_are_registered_and_the_cli_offers_them() -> None:
    from lrlab.cli import build_parser

    assert list(BACKENDS) == ["local", "ray"]
    assert get_backend("ray").takes == {"address", "asha"} and get_backend("local").takes == set()
    with pytest.raises(SweepError, match=r"backend must be 'local' or 'ray'; got backend='Ray'"):
        get_backend("Ray")
    parser = build_parser()
    assert parser.parse_args(["sweep", TEMPLATE, "--backend", "ray"]).backend == "ray"
    with pytest.raises(SystemExit):
        parser.parse_args(["sweep", TEMPLATE, "--backend", "slurm"])


def test_a_backend_is_checked_when_registered() -> None:
    with pytest.raises(SweepError, match=r"backend 'x' takes unknown options \['gpus'\]"):
        register_backend("x", description="x", takes=("gpus",))
    with pytest.raises(SweepError, match=r"backend 'local' is registered twice"):
        register_backend("local", description="again")(lambda job: None)


@pytest.mark.slow
def test_a_new_backend_is_one_function_and_gets_the_same_folder(reference: Path, data: Any, tmp_path: Path) -> None:
    order: list[str] = []

    @register_backend("reversed", description="the trials in reverse order, in this process")
    def run_reversed(job: SweepJob) -> None:
        for trial in reversed(job.trials):
            order.append(trial.trial_id)
            job.done(job.train(trial))

    try:
        out = tmp_path / "reversed"
        outcome = run_sweep(tiny_sweep(), out, backend="reversed", data=data, quiet=True)
    finally:
        BACKENDS.pop("reversed")
    assert order == [t.trial_id for t in reversed(expand(tiny_sweep()))]
    assert outcome.complete and outcome.ran == [t.trial_id for t in expand(tiny_sweep())]
    assert len((out / "results.jsonl").read_text().splitlines()) == 4
    mine, theirs = finals(out), finals(reference)
    assert mine.keys() == theirs.keys()
    for tid in mine:
        for key in ("train_loss", "train_acc", "test_acc"):
            assert mine[tid][key] == pytest.approx(theirs[tid][key], abs=1e-6), (tid, key)


# -- the report -------------------------------------------------------------------------------------
def md_table(text: str) -> dict[str, list[str]]:
    rows = [line for line in text.splitlines() if line.startswith("| lr=")]
    return {cells[0]: cells[1:] for cells in ([c.strip() for c in r.strip("|").split("|")] for r in rows)}


@pytest.mark.slow
def test_report_table_matches_the_metrics_files(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    assert is_sweep_folder(out)
    assert not is_sweep_folder(out / "trials")
    md, page = write_sweep_report(out)
    assert md == out / "report.md" and page == out / "report.html"
    table = md_table(md.read_text())
    by_setting: dict[str, list[dict[str, Any]]] = {}
    for folder in trial_folders(out).values():
        lr = json.loads((folder / "trial.json").read_text())["params"]["lr"]
        by_setting.setdefault(f"lr={lr}", []).append(final_epoch(folder))
    assert sorted(table) == sorted(by_setting) == ["lr=0.3", "lr=0.6"]
    for label, recs in by_setting.items():
        accs = [r["test_acc"] for r in recs]
        mean, std = statistics.mean(accs), statistics.stdev(accs)
        half = T_975_DF1 * std / math.sqrt(2)
        seeds, mean_std, interval, loss, diverged = table[label]
        assert seeds == "2" and diverged == "0"
        assert mean_std == f"{mean:.4f} ± {std:.4f} (2 seeds)"
        assert interval == f"[{mean - half:.4f}, {mean + half:.4f}]"
        assert loss == f"{statistics.mean(r['train_loss'] for r in recs):.4f}"
    text = md.read_text()
    assert re.search(r"^(Best is|Tie for the best|Only one setting)", text, re.M)
    assert "![final metric against lr](report-param-lr.png)" in text
    assert (out / "report-param-lr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "report-curves.png").is_file()


@pytest.mark.slow
def test_report_html_is_self_contained(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    write_sweep_report(out)
    page = (out / "report.html").read_text()
    for png in (out / "report-schedules.png", out / "report-param-lr.png", out / "report-curves.png"):
        png.unlink()
    sources = re.findall(r'<img[^>]*src="([^"]+)"', page)
    assert len(sources) == 3  # the swept schedules, the metric against lr, the best and worst curves
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:4] == b"\x89PNG"
    assert not re.search(r'(href|src)="(?!data:)', page)
    assert "lr=0.3" in page and "lr=0.6" in page and "95% interval" in page


@pytest.mark.slow
def test_report_of_a_half_done_sweep_says_so(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    for tid in [t.trial_id for t in expand(tiny_sweep())][2:]:
        (out / "trials" / tid / "result.json").unlink()
    md, _ = write_sweep_report(out)
    text = md.read_text()
    assert "incomplete: 2 of 4 trials finished" in text
    assert sorted(md_table(text)) == ["lr=0.3"]


# -- the Ray backend ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_ray_backend_gives_the_same_trials_and_report(reference: Path, data_dir: Path, tmp_path: Path) -> None:
    import ray  # a test extra: make setup installs it

    out = tmp_path / "ray"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        outcome = run_sweep(tiny_sweep(), out, backend="ray", data_path=data_dir, quiet=True)
    finally:
        ray.shutdown()
    assert outcome.complete
    assert sorted(trial_folders(out)) == sorted(trial_folders(reference))
    for folder in trial_folders(out).values():
        assert {p.name for p in folder.iterdir()} >= {"metrics.jsonl", "checkpoint.pt", "trial.json", "result.json"}
        assert json.loads((folder / "trial.json").read_text())["status"] == "done"
    mine, theirs = finals(out), finals(reference)
    for tid in mine:
        for key in ("train_loss", "train_acc", "test_acc"):
            # exact: every trial trains with the same threads per run (one) wherever it runs
            assert mine[tid][key] == theirs[tid][key], (tid, key)
    shutil.copytree(reference, tmp_path / "local")
    local = md_table(write_sweep_report(tmp_path / "local")[0].read_text())
    remote = md_table(write_sweep_report(out)[0].read_text())
    assert remote.keys() == local.keys()
    for label in local:
        for a, b in zip(local[label], remote[label], strict=True):
            numbers_a = [float(x) for x in re.findall(r"-?\d+\.\d+", a)]
            numbers_b = [float(x) for x in re.findall(r"-?\d+\.\d+", b)]
            assert numbers_b == pytest.approx(numbers_a, abs=2e-3), (label, a, b)


@pytest.mark.slow
def test_asha_on_ray_stops_hopeless_trials_early(data_dir: Path, tmp_path: Path) -> None:
    import ray

    # one trial at a time, the good rate first (test acc 0.46 after epoch 1 here, 1.0 after 3): the
    # hopeless rate (0.13, chance) falls below it at ASHA's first rung (epoch 1) and is stopped there
    sweep = tiny_sweep(
        template="constant({lr})", grid={"lr": (0.5, 1e-6)}, epochs=3, seeds=(0,), options={"batch_size": 16}
    )
    out = tmp_path / "asha"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        outcome = run_sweep(sweep, out, backend="ray", asha=True, max_concurrent=1, data_path=data_dir, quiet=True)
    finally:
        ray.shutdown()
    assert outcome.complete
    status = {}
    for tid, folder in trial_folders(out).items():
        info = json.loads((folder / "trial.json").read_text())
        epochs = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
        done = [r["epoch"] for r in epochs if r["type"] == "epoch"]
        status[tid] = (info["params"]["lr"], info["status"], len(done))
        assert (folder / "result.json").is_file()  # a stopped trial is finished too: never trained again
    assert {s for _, s, _ in status.values()} <= {"done", "stopped"}
    stopped = [(lr, n) for lr, s, n in status.values() if s == "stopped"]
    assert stopped == [(1e-6, 1)], status
    assert [(lr, n) for lr, s, n in status.values() if s == "done"] == [(0.5, 3)], status
    good = next(f for f in trial_folders(out).values() if "lr=0.5" in f.name)
    assert read_results(good).complete  # the job of a trial Tune ran to its end is closed too
    lines = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["trial_id"] for r in lines) == sorted(status)
    text = write_sweep_report(out)[0].read_text()
    assert "stopped" in text.lower()
    rerun = run_sweep(sweep, out, backend="ray", asha=True, max_concurrent=1, data_path=data_dir, quiet=True)
    assert rerun.ran == []  # nothing is trained twice


# -- the command line -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_sweep_end_to_end(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    argv = [
        "sweep",
        "cosine({lr}, steps=1)",
        "--grid",
        "lr=0.1,0.3",
        "--epochs",
        "1",
        "--batch-size",
        "64",
        "--data",
        str(data_dir),
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "report:" in printed and "lr=0.3" in printed
    assert is_sweep_folder(out)
    assert len(trial_folders(out)) == 2
    stored = json.loads((out / "sweep.json").read_text())["sweep"]
    assert stored["epochs"] == 1 and stored["seeds"] == [0] and stored["options"] == {"batch_size": 64}
    assert (out / "report.md").is_file() and (out / "report.html").is_file()
    # the same command again resumes: nothing to train
    assert main(argv) == 0
    assert "2 trials (2 already done)" in capsys.readouterr().out
    # a different grid into the same folder is refused, naming what differs
    assert main([*argv[:3], "lr=0.2", *argv[4:]]) == 1  # a runtime refusal, not a usage error (argparse's 2)
    assert "grid: the folder has" in capsys.readouterr().err
    # lrlab report redraws a sweep's report from its folder, as it does a compare job's
    (out / "report.md").unlink()
    assert main(["report", str(out)]) == 0
    assert "## Conclusion" in (out / "report.md").read_text()


def test_cli_preset_and_file_values_are_overridden(tmp_path: Path) -> None:
    from lrlab.cli import build_parser
    from lrlab.cli.sweep import build_sweep

    parser = build_parser()
    args = parser.parse_args(
        ["sweep", "--preset", "exercise-warmup-length", "--epochs", "3", "--seeds", "1", "--grid", "w=0,2"]
    )
    sweep = build_sweep(args)
    assert sweep.epochs == 3 and tuple(sweep.seeds) == (0,)
    assert dict(sweep.grid) == {"w": (0, 2)}
    assert sweep.template.startswith("warmup(cosine(0.3")
    path = tmp_path / "my.toml"
    path.write_text('template = "cosine({lr}, steps=5)"\nseeds = [0, 1]\nepochs = 5\n[grid]\nlr = [0.1, 0.2]\n')
    sweep = build_sweep(parser.parse_args(["sweep", "--file", str(path), "--epochs", "2"]))
    assert sweep.epochs == 2 and tuple(sweep.seeds) == (0, 1) and sweep.name == "my"
    with pytest.raises(SweepError, match=r"--grid"):
        build_sweep(parser.parse_args(["sweep", TEMPLATE, "--grid", "lr"]))


def test_cli_without_a_template_or_preset_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "--grid", "lr=0.1"]) == 1
    assert "TEMPLATE, --preset NAME or --file PATH" in capsys.readouterr().err


def test_import_lrlab_sweep_modules_imports_neither_torch_nor_ray() -> None:
    import subprocess
    import sys

    code = (
        "import sys, lrlab, lrlab.sweeps.run, lrlab.reports.sweep, lrlab.cli.sweep; "
        "print([m for m in ('torch', 'ray') if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
