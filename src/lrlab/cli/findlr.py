"""``lrlab find-lr``: Smith's learning-rate range test on the chapter's LeNet and Fashion-MNIST."""

from __future__ import annotations

import argparse
import json
import math
import platform
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lrlab.cli._types import int_at_least, positive_float
from lrlab.errors import invalid

PLOT = "find-lr.png"
RESULT = "find-lr.json"


def add_commands(sub: Any) -> None:
    cmd = sub.add_parser(
        "find-lr",
        help="learning-rate range test: suggest a maximum learning rate",
        description=(
            "Train the chapter's LeNet on Fashion-MNIST for a few hundred updates while the learning rate "
            "grows exponentially from --start to --end (Smith 2017), stop when the loss blows up, and "
            f"suggest a maximum rate. Writes {PLOT} (loss against rate) and {RESULT} to --out. "
            "Plain SGD on the mean cross-entropy, as `lrlab train` uses."
        ),
    )
    cmd.add_argument("--model", default="lenet", help="network variant: lenet (default) or tf")
    cmd.add_argument("--init", default="torch", help="weight initialisation: torch (default) or xavier")
    cmd.add_argument("--start", type=positive_float, default=1e-5, help="first learning rate (default 1e-5)")
    cmd.add_argument("--end", type=positive_float, default=10.0, help="last learning rate (default 10)")
    cmd.add_argument("--steps", type=int_at_least(2), default=200, help="most updates to run (default 200)")
    cmd.add_argument("--batch-size", type=int_at_least(1), default=256, help="batch size (default 256)")
    cmd.add_argument("--seed", type=int_at_least(0), default=0, help="seed of the weights and batches (default 0)")
    cmd.add_argument("--data", help="folder with the Fashion-MNIST IDX files (default: search, then download)")
    cmd.add_argument("--device", default="cpu", help="torch device (default cpu)")
    cmd.add_argument("--out", default="find-lr", help="folder for the plot and the JSON result (default find-lr)")
    cmd.set_defaults(run=run_find_lr)




def run_find_lr(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from torch import nn

    import lrlab
    from lrlab.lab.data import load_fashion_mnist
    from lrlab.lab.findlr import find_lr, plot_find_lr
    from lrlab.lab.models import ModelConfig, build_model

    if args.end <= args.start:
        raise invalid("--end", args.end, f"> --start={args.start}", where="find-lr")
    config = ModelConfig(args.model, args.init)
    device = torch.device(args.device)
    data = load_fashion_mnist(args.data)
    images = torch.from_numpy(np.array(data.train_images, dtype=np.float32) / 255.0).unsqueeze(1).to(device)
    labels = torch.from_numpy(data.train_labels.astype(np.int64)).to(device)
    model = build_model(config, args.seed).to(device)
    batches = _Shuffled(images, labels, args.batch_size, args.seed)
    print(
        f"lrlab find-lr: {config.variant} on {data.describe()}; lr {args.start:g} -> {args.end:g} "
        f"over at most {args.steps} updates of {args.batch_size}"
    )
    result = find_lr(model, nn.CrossEntropyLoss(), batches, start=args.start, end=args.end, steps=args.steps)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot = plot_find_lr(
        result,
        out / PLOT,
        title=f"Learning-rate range test: {config.variant} on Fashion-MNIST, batch {args.batch_size}",
    )
    record = {
        "run_id": uuid.uuid4().hex[:12],
        "config": {
            "model": config.to_dict(),
            "start": args.start,
            "end": args.end,
            "steps": args.steps,
            "batch_size": args.batch_size,
            "seed": args.seed,
            "optimizer": "SGD (no momentum, no weight decay), mean cross-entropy",
            "data": str(data.source),
        },
        "versions": {"lrlab": lrlab.__version__, "torch": torch.__version__, "python": platform.python_version()},
        "result": result.to_dict(),
    }
    (out / RESULT).write_text(json.dumps(_finite(record), indent=1) + "\n")
    print(result.describe())
    print(f"wrote {plot} and {out / RESULT}")
    return 0


class _Shuffled:
    """Minibatches in a fresh seeded order on every pass (the last partial batch included)."""

    def __init__(self, x: Any, y: Any, batch_size: int, seed: int) -> None:
        import torch

        self.x, self.y, self.batch_size = x, y, batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        import torch

        order = torch.randperm(int(self.x.shape[0]), generator=self.generator).to(self.x.device)
        for i in range(0, len(order), self.batch_size):
            index = order[i : i + self.batch_size]
            yield self.x[index], self.y[index]


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
