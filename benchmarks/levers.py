"""The kernel levers of issue 12 that were tried and not kept, measured again side by side (not in ``make bench``).

One run's training step of the chapter's LeNet (256 real Fashion-MNIST images, SGD, channels-last, one torch
thread), timed in rounds that alternate the variants, each against the trainer's own step in the same round:

  native     torch's non-oneDNN convolutions (``torch.backends.mkldnn.flags(enabled=False)``)
  stockpool  the first 2x2 max pooling (6 channels, where oneDNN's channels-last pooling runs scalar) built
             from stock elementwise ops: two ``torch.maximum`` passes, and 0/1 masks that route the gradient
             to the element ``max_pool2d`` picks (the first maximum in row-major order): the same numbers
  jax        the same step under XLA (``jax.jit`` of value_and_grad and the update), if jax is installed

Prints one ratio line per lever (> 1: the lever is faster) and checks that ``stockpool`` trains bitwise like
the trainer's step. ``benchmarks/PROFILE.md`` section 7 has the figures and why none was kept. About 2 min;
``--smoke`` is a few seconds (tiny sizes, for the tests).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common


def stock_max_pool() -> Any:
    """A 2x2/2 max pooling module for channels-last inputs, from stock ops, with `max_pool2d`'s numbers."""
    import torch
    from torch import nn

    class Pool(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
            n, c, h, w = x.shape
            pairs = x.permute(0, 2, 3, 1).reshape(n, h, w // 2, 2, c)
            left, right = pairs[:, :, :, 0], pairs[:, :, :, 1]
            rows = torch.maximum(left, right).view(n, h // 2, 2, w // 2, c)
            top, bottom = rows[:, :, 0], rows[:, :, 1]
            out = torch.maximum(top, bottom)
            # 1 where the later element wins (strictly larger): ties go to the first, as in max_pool2d
            right_wins = torch.empty(left.shape, dtype=x.dtype)
            torch.lt(left, right, out=right_wins)
            bottom_wins = torch.empty(out.shape, dtype=x.dtype)
            torch.lt(top, bottom, out=bottom_wins)
            ctx.save_for_backward(right_wins, bottom_wins)
            return out.permute(0, 3, 1, 2)

        @staticmethod
        def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
            right_wins, bottom_wins = ctx.saved_tensors
            n, h, half_w, c = right_wins.shape
            g = grad.permute(0, 2, 3, 1)
            by_row = g.new_empty((n, h // 2, 2, half_w, c))
            top = torch.addcmul(g, g, bottom_wins, value=-1, out=by_row[:, :, 0])  # g, or +0 where bottom won
            torch.sub(g, top, out=by_row[:, :, 1])
            rows = by_row.view(n, h, half_w, c)
            full = g.new_empty((n, h, half_w, 2, c))
            left = torch.addcmul(rows, rows, right_wins, value=-1, out=full[:, :, :, 0])
            torch.sub(rows, left, out=full[:, :, :, 1])
            return full.view(n, h, half_w * 2, c).permute(0, 3, 1, 2)

    class StockMaxPool(nn.MaxPool2d):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            usable = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
            if usable and x.shape[1] % 16 and x.shape[2] % 2 == 0 and x.shape[3] % 2 == 0:
                return Pool.apply(x)  # type: ignore[no-any-return]
            return super().forward(x)  # type: ignore[no-any-return]

    return StockMaxPool(kernel_size=2, stride=2)


def torch_step(variant: str, x: Any, y: Any) -> tuple[Callable[[], None], Any]:
    """One training step of a fresh LeNet (the trainer's model), as the variant makes it, and the model."""
    import torch
    from torch import nn

    from lrlab.lab.models import lenet

    torch.manual_seed(0)
    net = lenet()
    if variant == "stockpool":
        first = next(i for i, m in enumerate(net) if isinstance(m, nn.MaxPool2d))
        net[first] = stock_max_pool()
    net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=0.3)
    loss = nn.CrossEntropyLoss()

    def step() -> None:
        with torch.backends.mkldnn.flags(enabled=variant != "native"):
            out = loss(net(x), y)
            opt.zero_grad()
            out.backward()  # type: ignore[no-untyped-call]
            opt.step()

    return step, net


def jax_step(x_np: Any, y_np: Any) -> Callable[[], None] | None:
    """The same LeNet step under XLA, or None without jax."""
    try:
        import jax
        import jax.numpy as jnp
        from jax import lax
    except ImportError:
        return None
    import numpy as np

    keys = jax.random.split(jax.random.PRNGKey(0), 5)

    def uniform(key: Any, shape: tuple[int, ...], fan_in: int) -> Any:
        bound = 1 / np.sqrt(fan_in)
        return jax.random.uniform(key, shape, minval=-bound, maxval=bound)

    params = {
        "c1": uniform(keys[0], (5, 5, 1, 6), 25),
        "b1": jnp.zeros(6),
        "c2": uniform(keys[1], (5, 5, 6, 16), 150),
        "b2": jnp.zeros(16),
        "f1": uniform(keys[2], (400, 120), 400),
        "g1": jnp.zeros(120),
        "f2": uniform(keys[3], (120, 84), 120),
        "g2": jnp.zeros(84),
        "f3": uniform(keys[4], (84, 10), 84),
        "g3": jnp.zeros(10),
    }
    dims = ("NHWC", "HWIO", "NHWC")

    def pool(v: Any) -> Any:
        return lax.reduce_window(v, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    def forward(p: Any, v: Any) -> Any:
        v = lax.conv_general_dilated(v, p["c1"], (1, 1), ((2, 2), (2, 2)), dimension_numbers=dims) + p["b1"]
        v = jax.nn.relu(pool(v))
        v = lax.conv_general_dilated(v, p["c2"], (1, 1), "VALID", dimension_numbers=dims) + p["b2"]
        v = jax.nn.relu(pool(v)).reshape(-1, 400)
        v = jax.nn.relu(v @ p["f1"] + p["g1"])
        v = jax.nn.relu(v @ p["f2"] + p["g2"])
        return v @ p["f3"] + p["g3"]

    def loss(p: Any, v: Any, t: Any) -> Any:
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(forward(p, v)), t[:, None], 1))

    @jax.jit
    def update(p: Any, v: Any, t: Any) -> Any:
        value, grads = jax.value_and_grad(loss)(p, v, t)
        return jax.tree.map(lambda a, b: a - 0.3 * b, p, grads), value

    xs = jnp.asarray(np.transpose(x_np, (0, 2, 3, 1)))
    ys = jnp.asarray(y_np)
    state = {"p": params}

    def step() -> None:
        state["p"], value = update(state["p"], xs, ys)
        value.block_until_ready()

    return step


def seconds_per_step(step: Callable[[], None], steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--steps", type=int, default=30, help="steps per variant per round")
    p.add_argument("--smoke", action="store_true", help="tiny sizes (for the tests)")
    a = p.parse_args(argv)
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    import numpy as np
    import torch

    torch.set_num_threads(1)
    rounds, steps = (1, 2) if a.smoke else (a.rounds, a.steps)
    arrays = common.synthetic_arrays() if a.smoke else common.fashion_mnist_arrays()
    images = arrays[0][: common.BATCH_SIZE].astype(np.float32)[:, None] / 255
    labels = arrays[1][: common.BATCH_SIZE].astype(np.int64)
    x = torch.from_numpy(images).contiguous(memory_format=torch.channels_last)
    y = torch.from_numpy(labels)

    # the stock-op pooling must train like the trainer's step: same loss, same weights, bit for bit
    (base, base_net), (stock, stock_net) = torch_step("trainer", x, y), torch_step("stockpool", x, y)
    for _ in range(3):
        base()
        stock()
    same = all(torch.equal(u, v) for u, v in zip(base_net.parameters(), stock_net.parameters(), strict=True))
    print(f"stockpool trains bitwise like max_pool2d after 3 steps: {same}")

    steps_of: dict[str, Callable[[], None]] = {v: torch_step(v, x, y)[0] for v in ("trainer", "native", "stockpool")}
    jax_fn = jax_step(images, labels)
    if jax_fn is not None:
        steps_of["jax"] = jax_fn
    for fn in steps_of.values():  # warm-up (and XLA's compile)
        fn()
    times: dict[str, list[float]] = {k: [] for k in steps_of}
    for r in range(rounds):
        for name in common.rotated(list(steps_of), r):
            times[name].append(seconds_per_step(steps_of[name], steps))
    print(f"\nkernel levers, one thread ({common.cpu_model()}); ms per step of 256 images, median of {rounds} rounds")
    for name, values in times.items():
        print(f"  {name:<10} {statistics.median(values) * 1e3:8.2f} ms")
    for name in steps_of:
        if name == "trainer":
            continue
        ratio = [t / v for t, v in zip(times["trainer"], times[name], strict=True)]
        print(common.ratio_line(f"{name} / the trainer's step", ratio))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
