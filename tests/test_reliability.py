"""Every fault of the lab ends in a clear error or a correct result (issue 14): one test per class of fault.

Each CLI case checks what a user sees: exit code 1 (2 for argparse's usage
errors), one line on stderr naming the file, value or limit, no traceback,
and nothing written where nothing should be. The jobs train LeNet for one or
two epochs on 128 synthetic images (`fixtures_data`).
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import re
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fixtures_data import idx_bytes, write_dataset, write_idx  # noqa: E402
from lrlab.cli import main  # noqa: E402
from lrlab.errors import DataError, ResultsError  # noqa: E402
from lrlab.lab import store  # noqa: E402
from lrlab.lab.config import TrainConfig  # noqa: E402
from lrlab.lab.data import read_idx  # noqa: E402
from lrlab.lab.store import LOCK, FolderLock, read_results  # noqa: E402
from lrlab.lab.train import Listener, Run, Trainer  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

TRAIN = ["--epochs", "2", "--batch-size", "64", "--quiet", "--workers", "1", "--no-report"]


@pytest.fixture(scope="module")
def syn(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write_dataset(tmp_path_factory.mktemp("syn"), n_train=128, n_test=32))


@pytest.fixture(scope="module")
def job(syn: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 2-epoch job folder, copied by the tests that damage one."""
    out = tmp_path_factory.mktemp("job") / "job"
    assert main(["train", "--schedule", "constant(0.1)", *TRAIN, "--data", syn, "--out", str(out)]) == 0
    return out


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    """The one line a runtime fault prints, checked to be a single line without a traceback."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    errors = [line for line in lines if ": error: " in line]
    assert len(errors) == 1, err
    return errors[0]


# -- 1. divergence ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "spec, optimizer",
    [("constant(1000000)", None), ("constant(1e38)", "adam")],  # Adam at 1e38: torch raises an overflow error
)
def test_a_job_whose_runs_all_diverged_ends_normally(
    spec: str, optimizer: str | None, syn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "job"
    argv = ["train", "--schedule", spec, "--epochs", "3", "--batch-size", "16", "--quiet", "--workers", "1"]
    argv += ["--data", syn, "--out", str(out)]
    argv += ["--optimizer", optimizer] if optimizer else []
    code, printed, err = cli(argv, capsys)
    assert code == 0, err
    assert "DIVERGED" in printed and (out / "report.md").is_file()
    results = read_results(out)
    (run,) = results.runs
    assert results.complete and run.diverged_epoch == 1 and len(run.epochs) == 1
    # a resume of the ended job trains nothing and still ends normally
    assert cli([*argv, "--resume"], capsys)[0] == 0
    assert read_results(out).runs[0].diverged_epoch == 1


def test_a_hopeless_trial_does_not_stop_a_sweep(syn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sweep"
    argv = ["sweep", "constant({lr})", "--grid", "lr=1000000,0.1", "--epochs", "2", "--batch-size", "64"]
    code, _, err = cli([*argv, "--data", syn, "--out", str(out), "--quiet", "--workers", "1"], capsys)
    assert code == 0, err
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert sorted(r["diverged"] for r in results) == [False, True]
    assert {r["status"] for r in results} == {"done"}


# -- 2. a resume must find the same data ---------------------------------------------------------------------
def test_resume_refuses_changed_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_dataset(tmp_path / "data", n_train=128, n_test=32)
    out = tmp_path / "job"
    argv = ["train", "--schedule", "constant(0.1)", *TRAIN, "--data", str(data), "--out", str(out)]
    assert cli(argv, capsys)[0] == 0
    job_json = (out / "job.json").read_bytes()
    write_dataset(data, n_train=128, n_test=32, seed=7)  # other images under the same path
    code, _, err = cli([*argv, "--resume"], capsys)
    line = one_error_line(err)
    assert code == 1 and "data differ: data_fingerprint" in line and str(out) in line
    assert (out / "job.json").read_bytes() == job_json  # not rewritten


# -- 3. one job per folder --------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["train", "sweep"])
def test_a_folder_in_use_is_refused_and_a_stale_lock_taken_over(
    command: str, syn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    if command == "train":
        argv = ["train", "--schedule", "constant(0.1)", *TRAIN, "--data", syn, "--out", str(out), "--resume"]
    else:
        argv = ["sweep", "constant({lr})", "--grid", "lr=0.1", "--epochs", "1", "--batch-size", "64", "--quiet"]
        argv += ["--data", syn, "--out", str(out), "--workers", "1", "--no-report"]
    with FolderLock(out):  # another job holds the folder (flock: another open file, as another process)
        code, _, err = cli(argv, capsys)
    line = one_error_line(err)
    assert code == 1 and f"in use by another lrlab job (pid {os.getpid()} on host {socket.gethostname()})" in line
    assert not (out / "job.json").exists() and not (out / "sweep.json").exists()
    # a lock file left by a process that died (no flock held) is taken over, with a message
    (out / LOCK).write_text("pid 999999 on host gone\n")
    code, _, err = cli(argv, capsys)
    assert code == 0, err
    assert "taking over the lock of pid 999999 on host gone" in err
    assert not (out / LOCK).exists()  # released at the end


# -- 4. no silent overwrite ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("existing", ["job-without-job.json", "sweep"])
def test_a_folder_with_results_is_refused_unless_overwrite(
    existing: str, syn: str, job: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    if existing == "sweep":
        argv = ["sweep", "constant({lr})", "--grid", "lr=0.1", "--epochs", "1", "--batch-size", "64"]
        assert main([*argv, "--data", syn, "--out", str(out), "--quiet", "--workers", "1"]) == 0
    else:
        shutil.copytree(job, out)
        (out / "job.json").unlink()
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    argv = ["compare", "constant(0.2)", *TRAIN, "--data", syn, "--out", str(out)]
    code, _, err = cli(argv, capsys)
    line = one_error_line(err)
    assert code == 1 and "already holds lrlab results" in line and "--overwrite" in line
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before  # untouched
    code, _, err = cli([*argv, "--overwrite"], capsys)
    assert code == 0, err
    assert "removed the earlier results" in err
    assert not (out / "sweep.json").exists() and not (out / "trials").exists()
    assert [r.config["schedule"] for r in read_results(out).runs] == ["constant(0.2)"]


def test_resume_of_a_missing_folder_says_it_starts_fresh(
    syn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "new"
    code, printed, _ = cli(
        ["train", "--schedule", "constant(0.1)", *TRAIN, "--data", syn, "--out", str(out), "--resume"], capsys
    )
    assert code == 0 and f"--resume: {out} holds no job to resume; starting it fresh" in printed


# -- 5. an unreachable Ray cluster ----------------------------------------------------------------------------------
def test_an_unreachable_ray_address_fails_at_once(syn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("ray")
    argv = ["sweep", "constant({lr})", "--grid", "lr=0.1", "--epochs", "1", "--batch-size", "64", "--quiet"]
    argv += ["--data", syn, "--out", str(tmp_path / "s"), "--backend", "ray", "--address", "127.0.0.1:1"]
    started = time.monotonic()
    code, _, err = cli(argv, capsys)
    line = one_error_line(err)
    assert time.monotonic() - started < 30
    assert code == 1 and "no Ray cluster answers at 127.0.0.1:1" in line and "ray start --head" in line


# -- 6. sizes are checked before work starts --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--grid", "lr=log:1e-3:1:1000000000"], "COUNT <= 10000 (the limit)"),
        (["--grid", "lr=lin:0.1:1:200", "--grid", "w=lin:0:1:200"], "40000 trials (lr: 200 values x w: 200 values"),
        (["--grid", "lr=0.1,0.2", "--seeds", "5000"], "a count <= 1000 (the limit)"),
        (["--grid", "lr=lin:0.1:1:1000", "--seeds", "20"], "20000 trials (lr: 1000 values x 20 seeds) is more than"),
    ],
)
def test_sweep_sizes_past_the_limits_are_refused(
    argv: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = "constant({lr})" if "w=" not in " ".join(argv) else "warmup(constant({lr}), steps={w})"
    started = time.monotonic()
    code, _, err = cli(["sweep", template, *argv, "--out", str(tmp_path / "s"), "--quiet"], capsys)
    assert code == 1 and expected in one_error_line(err)
    assert time.monotonic() - started < 10 and not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["show", "constant(0.1)", "--steps", "1000000000"], "must be <= 100000 (the limit)"),
        (["plot", "constant(0.1)", "--steps", "1000000000"], "must be <= 1000000 (the limit)"),
        (["sweep", "constant({lr})", "--random", "lr=uniform:0:1", "--trials", "100000"], "must be <= 10000"),
        (["train", "--schedule", "constant(0.1)", "--seed", str(2**64)], "must be <= 9223372036854775807"),
    ],
)
def test_option_sizes_past_the_limits_are_usage_errors(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(argv, capsys)
    assert code == 2 and expected in err


@pytest.mark.parametrize("case", ["gzip-longer-than-header", "header-too-large", "raw-longer-than-header"])
def test_idx_files_are_read_no_further_than_their_header(case: str, tmp_path: Path) -> None:
    path = tmp_path / "images"
    images = np.ones((4, 28, 28), np.uint8)
    if case == "gzip-longer-than-header":  # a header for 2 images, a stream of 4 (two members)
        data = idx_bytes(images)
        header = data[:4] + (2).to_bytes(4, "big") + data[8:16]
        path.write_bytes(gzip.compress(header + images.tobytes()[: 2 * 784]) + gzip.compress(images.tobytes()))
        expected = r"more bytes than the header \(2, 28, 28\) describes"
    elif case == "header-too-large":  # 2**30 x 28 x 28 bytes announced: refused before reading on
        data = idx_bytes(images)
        path.write_bytes(gzip.compress(data[:4] + (2**30).to_bytes(4, "big") + data[8:]))
        expected = r"more than the limit 2147483648"
    else:
        path.write_bytes(idx_bytes(images) + b"\0" * 10)
        expected = "10 bytes after the data"
    with pytest.raises(DataError, match=expected):
        read_idx(path)


# -- 10. a full disk or a read-only folder --------------------------------------------------------------------------
def _fail_writes(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(store.os, "fsync", fail)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_failed_write_is_one_line_and_keeps_the_last_checkpoint(
    code: int, syn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the command line: one line naming the file and the reason
    out = tmp_path / "cli"
    with monkeypatch.context() as patch:
        _fail_writes(patch, code)
        status, _, err = cli(["train", "--schedule", "constant(0.1)", *TRAIN, "--data", syn, "--out", str(out)], capsys)
    line = one_error_line(err)
    assert status == 1 and f"cannot write {out / 'job.json'} ({os.strerror(code)}, {errno.errorcode[code]})" in line
    assert [p.name for p in out.iterdir()] == []  # no temporary file, no lock left

    # a job whose disk fills after epoch 1: the epoch-1 checkpoint stays whole, no temporary file is left
    job = tmp_path / "job"

    class FillDisk(Listener):
        def epoch(self, epoch: int, records: list[dict[str, object]]) -> None:
            _fail_writes(monkeypatch, code)

    trainer = Trainer(
        [Run("constant(0.1)")], TrainConfig(epochs=2, batch_size=64), data=syn, out=job, listener=FillDisk()
    )
    with pytest.raises(ResultsError, match=f"cannot write {job / 'checkpoint.pt'}"):
        trainer.run()
    monkeypatch.undo()
    assert sorted(p.name for p in job.iterdir()) == ["checkpoint.pt", "job.json", "metrics.csv", "metrics.jsonl"]
    assert torch.load(job / "checkpoint.pt", weights_only=True)["epochs_done"] == 1


def test_a_read_only_folder_is_one_line(
    syn: str, job: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ro"
    shutil.copytree(job, out)
    out.chmod(0o555)
    try:
        if os.access(out, os.W_OK):
            pytest.skip("chmod does not stop this user (root) from writing; the monkeypatched EROFS case covers it")
        code, _, err = cli(
            ["train", "--schedule", "constant(0.1)", *TRAIN, "--data", syn, "--out", str(out), "--resume"], capsys
        )
    finally:
        out.chmod(0o755)
    assert code == 1 and f"cannot write {out / LOCK}" in one_error_line(err)


def test_stale_temporary_files_are_removed_at_the_next_start(
    syn: str, job: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "job"
    shutil.copytree(job, out)
    (out / ".checkpoint.pt.k9x2ab7q.tmp").write_bytes(b"half a checkpoint")  # kill -9 during a write
    (out / "notes.tmp").write_text("mine")  # not lrlab's: kept
    argv = ["train", "--schedule", "constant(0.1)", *TRAIN, "--data", syn, "--out", str(out), "--resume"]
    assert cli(argv, capsys)[0] == 0
    assert not (out / ".checkpoint.pt.k9x2ab7q.tmp").exists() and (out / "notes.tmp").exists()


# -- 11. malformed result files ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "damage, expected",
    [
        ({"job.json": b"[1, 2]\n"}, r"job.json: must hold a JSON object; got a list"),
        ({"job.json": b'{"job_id": "x"}\n'}, r"job.json: the field 'identity' is missing"),
        ({"metrics.jsonl": b"MIDDLE 5\n"}, r"metrics.jsonl:2: not a record \(a JSON object\); got 5"),
        ({"metrics.jsonl": b"MIDDLE \xff\xfe\n"}, r"metrics.jsonl:2: not UTF-8 text"),
        (
            {"metrics.jsonl": b'MIDDLE {"type": "epoch", "epoch": 1}\n'},
            r"metrics.jsonl:2: a 'epoch' record without 'run_id'",
        ),
    ],
    ids=["job-not-object", "job-missing-field", "metrics-not-record", "metrics-not-utf8", "metrics-missing-key"],
)
def test_malformed_files_are_named_with_their_line(
    damage: dict[str, bytes], expected: str, syn: str, job: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "job"
    shutil.copytree(job, out)
    for name, content in damage.items():
        if content.startswith(b"MIDDLE "):
            lines = (out / name).read_bytes().splitlines(keepends=True)
            content = lines[0] + content.removeprefix(b"MIDDLE ") + b"".join(lines[1:])
        (out / name).write_bytes(content)
    commands = [] if "identity" in expected else [["report", str(out)]]  # a report needs no identity
    if "job.json" in damage:  # --resume reads job.json first
        commands.append(["compare", "--resume", "--out", str(out), "--data", syn, "--quiet"])
    for argv in commands:
        code, _, err = cli(argv, capsys)
        assert code == 1 and re.search(expected, one_error_line(err)), argv


def test_a_torn_last_line_is_skipped_with_a_warning(
    job: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "job"
    shutil.copytree(job, out)
    with (out / "metrics.jsonl").open("ab") as f:
        f.write(b'{"type": "epoch", "run_id": "x", "ep')  # killed while appending
    code, printed, err = cli(["report", str(out)], capsys)
    assert code == 0 and "report:" in printed
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert f"lrlab report: warning: {out / 'metrics.jsonl'}:{len(lines)}: the last line is cut short" in err


def test_a_checkpoint_missing_keys_is_named(
    syn: str, job: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "job"
    shutil.copytree(job, out)
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    del state["generators"]
    torch.save(state, out / "checkpoint.pt")
    argv = ["train", "--schedule", "constant(0.1)", *TRAIN, "--data", syn, "--out", str(out), "--resume"]
    code, _, err = cli(argv, capsys)
    assert code == 1 and f"{out / 'checkpoint.pt'} lacks 'generators'" in one_error_line(err)


# -- 12. options -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "device, expected",
    [
        ("toaster", "device must be a torch device such as 'cpu' or 'cuda'; got device='toaster'"),
        ("meta", "device must be a device that holds data"),
        ("cuda:7", "device must be "),
    ],
)
def test_a_device_torch_cannot_train_on_is_refused_before_the_folder(
    device: str, expected: str, syn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if device.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has 8 CUDA devices")
    for command in (["train", "--schedule", "constant(0.1)", *TRAIN], ["find-lr", "--steps", "5", "--quiet"]):
        out = tmp_path / command[0]
        code, _, err = cli([*command, "--data", syn, "--out", str(out), "--device", device], capsys)
        assert code == 1 and expected in one_error_line(err)
        assert not out.exists()


def test_an_out_path_that_is_a_file_is_refused(syn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "results"
    path.write_text("a file of the user's")
    for command in (
        ["train", "--schedule", "constant(0.1)", *TRAIN],
        ["sweep", "constant({lr})", "--grid", "lr=0.1", "--epochs", "1", "--quiet"],
        ["find-lr", "--steps", "5", "--quiet"],
    ):
        code, _, err = cli([*command, "--data", syn, "--out", str(path)], capsys)
        assert code == 1 and f"--out {str(path)!r} is a file, not a folder" in one_error_line(err), command
    assert path.read_text() == "a file of the user's"


def test_plot_out_without_png_says_the_file_it_wrote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, printed, _ = cli(["plot", "constant(0.1)", "--out", str(tmp_path / "figure")], capsys)
    assert code == 0 and f"wrote {tmp_path / 'figure.png'}" in printed
    assert (tmp_path / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not (tmp_path / "figure").exists()


# -- 14. data of the wrong shape ------------------------------------------------------------------------------------
def test_images_that_are_not_28x28_are_refused_before_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for name, n in (("train", 64), ("t10k", 16)):
        write_idx(data / f"{name}-images-idx3-ubyte.gz", rng.integers(0, 255, (n, 32, 32)))
        write_idx(data / f"{name}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))
    out = tmp_path / "job"
    code, _, err = cli(["train", "--schedule", "constant(0.1)", *TRAIN, "--data", str(data), "--out", str(out)], capsys)
    line = one_error_line(err)
    assert code == 1 and "images are 32x32; the Fashion-MNIST experiments need 28x28" in line
    assert not out.exists()
