"""The learning-rate range test on problems small enough to know the answer, and ``lrlab find-lr``."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import lrlab  # noqa: E402
from lrlab.errors import ScheduleError  # noqa: E402
from lrlab.lab.findlr import RULES, FindLRResult, find_lr  # noqa: E402
from lrlab.reports.plots import find_lr_figure, save_figure  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    """Tiny tensors: one intra-op thread is many times faster than several fighting over a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _regression(n: int = 256, d: int = 4, seed: int = 0) -> tuple[Any, Any, float]:
    """Linear regression data and the rate above which full-batch gradient descent on its MSE diverges.

    For ``mean((X w + b - y)^2)`` the Hessian is ``H = 2 AᵀA / n`` with ``A = [X, 1]``; gradient
    descent is stable only for ``lr < 2 / λmax(H)``.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = x @ rng.normal(size=d) + 0.5 + 0.1 * rng.normal(size=n)
    a = np.hstack([x, np.ones((n, 1))])
    critical = 2.0 / float(np.linalg.eigvalsh(2.0 * a.T @ a / n).max())
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y[:, None], dtype=torch.float32), critical


def _classifier() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 2))


def _blobs(n: int = 128, batch: int = 32) -> list[tuple[Any, Any]]:
    gen = torch.Generator().manual_seed(1)
    y = torch.arange(n) % 2
    x = torch.randn(n, 2, generator=gen) * 0.5 + (y[:, None] * 2 - 1) * 2.0
    return [(x[i : i + batch], y[i : i + batch]) for i in range(0, n, batch)]


def _state(model: nn.Module) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same_tensors(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same_tensors(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same_tensors(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


# -- what it measures -------------------------------------------------------------------------------
def test_rates_grow_exponentially_from_start_to_end_and_the_loss_is_smoothed_with_bias_correction() -> None:
    x, y, _ = _regression()
    model = nn.Linear(4, 1)
    result = find_lr(model, nn.MSELoss(), [(x, y)], start=1e-4, end=1e-2, steps=50, smoothing=0.9)
    assert result.stop_reason == "reached the end rate" and result.stop_lr is None and not result.diverged
    lrs = np.array(result.lrs)
    assert len(lrs) == 50  # the one-batch list was started over 50 times
    assert lrs[0] == pytest.approx(1e-4, rel=1e-12) and lrs[-1] == pytest.approx(1e-2, rel=1e-12)
    assert np.allclose(lrs[1:] / lrs[:-1], 100 ** (1 / 49), rtol=1e-12)
    average = 0.0
    for i, (loss, smooth) in enumerate(zip(result.losses, result.smoothed, strict=True)):
        average = 0.9 * average + 0.1 * loss
        assert smooth == pytest.approx(average / (1 - 0.9 ** (i + 1)), rel=1e-12)
    assert result.smoothed[0] == pytest.approx(result.losses[0], rel=1e-15)  # the bias correction undoes the 1 - beta
    assert result.losses[-1] < result.losses[0]  # the rates were small enough to learn


def test_stops_when_the_loss_blows_up_and_suggests_a_rate_below_the_known_stability_limit() -> None:
    x, y, critical = _regression()
    result = find_lr(nn.Linear(4, 1), nn.MSELoss(), [(x, y)], start=1e-4, end=100.0, steps=120)
    assert result.diverged
    assert result.stop_reason in ("the smoothed loss exceeded diverge_factor x its best", "the loss was not finite")
    assert result.stop_lr is not None and critical < result.stop_lr < 100.0
    assert len(result.lrs) < 120
    for lr in (result.steepest_lr, result.decade_lr, result.suggested_lr):
        assert lr is not None and 1e-4 <= lr < critical
    assert result.min_loss_lr is not None and result.decade_lr == pytest.approx(result.min_loss_lr / 10)
    assert result.suggested_lr == min(result.steepest_lr, result.decade_lr)  # type: ignore[type-var]
    assert "suggested maximum learning rate" in result.describe()


def test_a_non_finite_loss_stops_the_test_at_once() -> None:
    x, y, _ = _regression()
    calls = {"n": 0}

    def loss_fn(out: Any, target: Any) -> Any:
        calls["n"] += 1
        loss = nn.functional.mse_loss(out, target)
        return loss * math.nan if calls["n"] == 10 else loss

    result = find_lr(nn.Linear(4, 1), loss_fn, [(x, y)], start=1e-4, end=1e-2, steps=50)
    assert result.stop_reason == "the loss was not finite"
    assert len(result.lrs) == 9 and all(math.isfinite(v) for v in result.smoothed)
    assert result.stop_lr == pytest.approx(1e-4 * 100 ** (9 / 49))


def test_a_one_shot_iterator_that_runs_out_ends_the_test() -> None:
    x, y, _ = _regression()
    result = find_lr(nn.Linear(4, 1), nn.MSELoss(), iter([(x, y)] * 7), start=1e-4, end=1e-2, steps=50)
    assert result.stop_reason == "the batches ran out"
    assert len(result.lrs) == 7


# -- it leaves no trace -------------------------------------------------------------------------------
def test_restores_parameters_buffers_gradients_modes_and_optimizer_state_exactly() -> None:
    model = _classifier()
    batches = _blobs()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for xb, yb in batches[:2]:  # real training first, so momentum buffers and BN statistics exist
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    model.eval()
    before = _state(model)
    grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    opt_before = json.loads(json.dumps(opt.state_dict()["param_groups"]))  # plain data: lrs, momentum, ids
    momentum = {id(p): opt.state[p]["momentum_buffer"].clone() for p in model.parameters()}

    result = find_lr(model, loss_fn, batches, optimizer=opt, start=1e-3, end=10.0, steps=60)
    assert len(result.lrs) > 5

    assert _same_tensors(_state(model), before)
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads, strict=True))
    assert not any(m.training for m in model.modules())  # still in eval mode, as before
    assert json.loads(json.dumps(opt.state_dict()["param_groups"])) == opt_before
    assert all(torch.equal(opt.state[p]["momentum_buffer"], momentum[id(p)]) for p in model.parameters())
    # the optimizer still drives this model's parameters
    model.train()
    first = next(model.parameters())
    start = first.detach().clone()
    opt.zero_grad()
    loss_fn(model(batches[0][0]), batches[0][1]).backward()
    opt.step()
    assert not torch.equal(first, start)


def test_restores_a_fresh_adam_to_its_empty_state() -> None:
    model = _classifier()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = _state(model)
    find_lr(model, nn.CrossEntropyLoss(), _blobs(), optimizer=opt, steps=20)
    assert opt.state_dict()["state"] == {}
    assert opt.param_groups[0]["lr"] == 1e-3
    assert _same_tensors(_state(model), before)
    assert all(p.grad is None for p in model.parameters())
    assert model.training  # it was in train mode


def test_restores_the_model_when_the_loss_function_raises() -> None:
    model = _classifier()
    before = _state(model)
    calls = {"n": 0}

    def loss_fn(out: Any, target: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 6:
            raise RuntimeError("boom")
        return nn.functional.cross_entropy(out, target)

    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(RuntimeError, match="boom"):
        find_lr(model, loss_fn, _blobs(), optimizer=opt, steps=20)
    assert _same_tensors(_state(model), before)
    assert opt.state_dict()["state"] == {} and opt.param_groups[0]["lr"] == 0.1


def test_an_optimizer_factory_is_called_with_the_parameters() -> None:
    model = _classifier()
    made: list[Any] = []

    def factory(params: Any) -> Any:
        opt = torch.optim.SGD(params, lr=1.0, momentum=0.9)
        made.append(opt)
        return opt

    result = find_lr(model, nn.CrossEntropyLoss(), _blobs(), optimizer=factory, start=1e-3, end=1.0, steps=10)
    assert len(made) == 1 and len(result.lrs) == 10
    assert made[0].param_groups[0]["lr"] == pytest.approx(1.0)  # the factory's optimizer saw the rates


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": 0.0}, "find_lr: start must be > 0; got start=0.0"),
        ({"start": 1.0, "end": 1.0}, "find_lr: end must be > start=1.0; got end=1.0"),
        ({"steps": 1}, "find_lr: steps must be a whole number >= 2; got steps=1"),
        ({"steps": 10.0}, "got steps=10.0"),
        ({"smoothing": 1.0}, "find_lr: smoothing must be in [0, 1); got smoothing=1.0"),
        ({"diverge_factor": 1.0}, "find_lr: diverge_factor must be > 1; got diverge_factor=1.0"),
        ({"optimizer": "sgd"}, "find_lr: optimizer must be a torch optimizer, a factory of one, or None"),
    ],
)
def test_bad_arguments_name_the_argument_and_value(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ScheduleError) as info:
        find_lr(nn.Linear(4, 1), nn.MSELoss(), [], **kwargs)
    assert message in str(info.value)


def test_batches_must_be_pairs() -> None:
    with pytest.raises(ScheduleError, match="batches must be an iterable of \\(inputs, targets\\) pairs"):
        find_lr(nn.Linear(4, 1), nn.MSELoss(), [torch.zeros(3, 4)], steps=5)


# -- the figure -----------------------------------------------------------------------------------------
def test_the_plot_is_written(tmp_path: Path) -> None:
    x, y, _ = _regression()
    result = find_lr(nn.Linear(4, 1), nn.MSELoss(), [(x, y)], start=1e-4, end=100.0, steps=80)
    path = save_figure(find_lr_figure(result), tmp_path / "sub" / "lr.png")
    assert path.read_bytes().startswith(PNG_MAGIC)
    empty = FindLRResult((), (), (), None, None, None, "the loss was not finite", 1e-5, 1e-5, 10.0, 200, 0.98, 4.0)
    assert save_figure(find_lr_figure(empty), tmp_path / "empty.png").read_bytes().startswith(PNG_MAGIC)
    assert "no suggestion" in empty.describe()


def test_the_plot_names_the_rule_in_the_consoles_words() -> None:
    x, y, _ = _regression()
    result = find_lr(nn.Linear(4, 1), nn.MSELoss(), [(x, y)], start=1e-4, end=100.0, steps=80)
    assert result.rule in RULES and RULES[result.rule] in result.rule_text
    labels = [t.get_text() for t in find_lr_figure(result).legends[0].get_texts()]  # below the axes
    assert f"suggested: {result.rule_text}" in labels
    assert f"suggested maximum learning rate: {result.rule_text}" in result.describe()


# -- the other modes ----------------------------------------------------------------------------------------
def test_a_linear_sweep_steps_the_rate_evenly() -> None:
    x, y, _ = _regression()
    result = find_lr(nn.Linear(4, 1), nn.MSELoss(), [(x, y)], start=0.001, end=0.1, steps=34, step_mode="linear")
    assert len(result.lrs) == 34 and result.step_mode == "linear"
    np.testing.assert_allclose(np.diff(result.lrs), 0.099 / 33, rtol=1e-9)


def test_validation_mode_records_the_held_out_loss_after_each_update() -> None:
    x, y, _ = _regression()
    held = [(x[:64], y[:64])]
    model = nn.Linear(4, 1)
    seen: list[float] = []

    def loss_fn(out: Any, target: Any) -> Any:
        return nn.functional.mse_loss(out, target)

    def progress(done: int, steps: int) -> None:
        with torch.no_grad():
            seen.append(float(loss_fn(model(held[0][0]), held[0][1])))

    result = find_lr(
        model, loss_fn, [(x[64:], y[64:])], start=1e-4, end=1e-2, steps=20, val_batches=held, progress=progress
    )
    assert result.validation and len(result.losses) == 20
    np.testing.assert_allclose(result.losses, seen, rtol=1e-6)  # the held-out loss after each update


def test_the_suggestion_becomes_a_schedule() -> None:
    x, y, _ = _regression()
    result = find_lr(nn.Linear(4, 1), nn.MSELoss(), [(x, y)], start=1e-4, end=100.0, steps=80)
    assert result.suggested_lr is not None
    rate = float(f"{result.suggested_lr:.3g}")
    assert result.schedule("warmup(cosine({lr}, steps=20), steps=2)") == lrlab.warmup(
        lrlab.cosine(rate, steps=20), steps=2
    )
    with pytest.raises(lrlab.ScheduleError, match="template must be a schedule spec with \\{lr\\}"):
        result.schedule("cosine(0.1, steps=20)")


# -- the command ----------------------------------------------------------------------------------------
def _write_idx(path: Path, array: np.ndarray[Any, Any]) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


@pytest.fixture
def tiny_fashion(tmp_path: Path) -> Path:
    """Four IDX files shaped like Fashion-MNIST: 64 train and 16 test images of 28x28, labels 0..9."""
    pytest.importorskip("lrlab.lab.data")
    pytest.importorskip("lrlab.lab.models")
    rng = np.random.default_rng(0)
    folder = tmp_path / "data"
    folder.mkdir()
    for split, n in (("train", 64), ("t10k", 16)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 60, size=(n, 28, 28))
        images[np.arange(n), labels * 2 + 4, 4:24] = 250  # a bright row whose place gives the class
        _write_idx(folder / f"{split}-images-idx3-ubyte.gz", images)
        _write_idx(folder / f"{split}-labels-idx1-ubyte.gz", labels)
    return folder


def test_find_lr_command_writes_the_plot_and_suggests_a_rate(
    tiny_fashion: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lrlab.cli import main

    out = tmp_path / "out"
    args = ["find-lr", "--data", str(tiny_fashion), "--steps", "25", "--batch-size", "16", "--out", str(out)]
    assert main([*args, "--start", "1e-4", "--end", "1"]) == 0
    printed = capsys.readouterr().out
    assert "suggested maximum learning rate" in printed or "no suggestion" in printed
    assert (out / "find-lr.png").read_bytes().startswith(PNG_MAGIC)
    record = json.loads((out / "find-lr.json").read_text())
    assert record["config"]["steps"] == 25 and record["config"]["batch_size"] == 16
    assert record["config"]["experiment"] == "fashion-mnist-lenet" and record["config"]["optimizer"] == "sgd"
    assert record["run_id"] and record["versions"]["torch"] == torch.__version__
    res = record["result"]
    assert 1 <= len(res["lrs"]) <= 25 and res["lrs"][0] == pytest.approx(1e-4)
    if res["suggested_lr"] is not None:
        assert 1e-4 <= res["suggested_lr"] <= 1


def test_find_lr_command_rejects_a_range_that_does_not_grow(
    tiny_fashion: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lrlab.cli import main

    code = main(["find-lr", "--data", str(tiny_fashion), "--start", "1", "--end", "0.1", "--out", str(tmp_path)])
    assert code == 1
    assert "lrlab find-lr: error: find-lr: --end must be > --start=1.0; got --end=0.1" in capsys.readouterr().err
