"""Where a job's batches come from: tensors in memory, a streamed ``Dataset``, or a user's loader factory.

Runs with the same seed must see the same batches in the same order (a
paired comparison), whatever else the job trains. So the order of an epoch
is drawn from the seed's own ``torch.Generator``: ``randperm(n)`` once per
epoch for every seed, whether or not its runs are still training. For
tensors the batches are slices of that order (the fast path: no loader,
no copies but the batch); a ``Dataset`` is read through a ``DataLoader``
whose sampler is that same order, so a data set that does not fit in
memory gives the same batches as the same data held as tensors. A loader
factory ``f(seed, epoch)`` decides its batches itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from lrlab.errors import ExperimentError

__all__ = ["BatchSource", "EvalSource", "batch_source", "eval_source"]

#: test examples per forward pass: 500-1000 keep the activations in cache (2x faster than 5000 here)
EVAL_BATCH = 1000

Batch = tuple[Any, Any]


def _pair(value: Any) -> bool:
    return isinstance(value, tuple | list) and len(value) == 2 and all(isinstance(v, torch.Tensor) for v in value)


def _to(batch: Any, device: torch.device, channels_last: bool, where: str) -> Batch:
    if not isinstance(batch, tuple | list) or len(batch) != 2:
        raise ExperimentError(f"{where}: a batch must be a pair (inputs, targets); got {type(batch).__name__}")
    x, y = batch
    x = x.to(device, non_blocking=True)
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y.to(device, non_blocking=True)


class BatchSource:
    """The training batches of one job (see the module docstring)."""

    #: number of training examples, None when a loader factory decides
    size: int | None

    def order(self, generator: torch.Generator) -> torch.Tensor | None:
        """This epoch's order for one seed (drawn for every seed, every epoch)."""
        raise NotImplementedError

    def batches(self, seed: int, epoch: int, order: torch.Tensor | None) -> Iterator[Batch]:
        """The batches of `epoch` (from 1) for the runs of `seed`, on the training device."""
        raise NotImplementedError

    def count(self, seed: int = 0) -> int | None:
        """Batches per epoch, when known."""
        raise NotImplementedError


def _resident(pair: Any, device: torch.device, cl: bool, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets checked (as many of each, > 0) and moved to `device` once (4-d inputs channels-last)."""
    x, y = pair
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ExperimentError(
            f"{split} inputs and targets must hold the same number (> 0) of examples; got "
            f"{x.shape[0]} inputs and {y.shape[0]} targets"
        )
    x = x.to(device)
    if cl and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y.to(device)


class _Tensors(BatchSource):
    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, device: torch.device, cl: bool) -> None:
        self.x, self.y = _resident((x, y), device, cl, "training")
        self.n = self.size = int(self.x.shape[0])
        self.batch_size = batch_size
        self.device = device

    def order(self, generator: torch.Generator) -> torch.Tensor:
        return torch.randperm(self.n, generator=generator).to(self.device)

    def batches(self, seed: int, epoch: int, order: torch.Tensor | None) -> Iterator[Batch]:
        assert order is not None
        bs = self.batch_size
        for b in range(self.count()):
            idx = order[b * bs : (b + 1) * bs]
            yield self.x[idx], self.y[idx]

    def count(self, seed: int = 0) -> int:
        return math.ceil(self.n / self.batch_size)


class _Streamed(BatchSource):
    def __init__(self, dataset: Any, batch_size: int, device: torch.device, cl: bool, workers: int) -> None:
        self.dataset = dataset
        self.n = self.size = len(dataset)
        if self.n == 0:
            raise ExperimentError("the training Dataset is empty")
        self.batch_size, self.device, self.cl, self.workers = batch_size, device, cl, workers

    def order(self, generator: torch.Generator) -> torch.Tensor:
        return torch.randperm(self.n, generator=generator)

    def batches(self, seed: int, epoch: int, order: torch.Tensor | None) -> Iterator[Batch]:
        assert order is not None
        loader = DataLoader(self.dataset, batch_size=self.batch_size, sampler=order.tolist(), num_workers=self.workers)
        for batch in loader:
            yield _to(batch, self.device, self.cl, "the training Dataset")

    def count(self, seed: int = 0) -> int:
        return math.ceil(self.n / self.batch_size)


class _Factory(BatchSource):
    def __init__(self, factory: Callable[[int, int], Iterable[Any]], device: torch.device, cl: bool) -> None:
        self.factory, self.device, self.cl = factory, device, cl
        self.size = None
        self._count: int | None = None

    def order(self, generator: torch.Generator) -> None:
        return None

    def batches(self, seed: int, epoch: int, order: torch.Tensor | None) -> Iterator[Batch]:
        loader = self.factory(seed, epoch)
        try:
            self._count = len(loader)  # type: ignore[arg-type]
        except TypeError:
            self._count = None
        for batch in loader:
            yield _to(batch, self.device, self.cl, "the training loader")

    def count(self, seed: int = 0) -> int | None:
        if self._count is None:
            try:
                self._count = len(self.factory(seed, 1))  # type: ignore[arg-type]
            except TypeError:
                return None
        return self._count


def batch_source(train: Any, batch_size: int, device: torch.device, channels_last: bool, workers: int) -> BatchSource:
    """The `BatchSource` for an experiment's ``Data.train``: a tensor pair, a ``Dataset`` or a factory."""
    if _pair(train):
        return _Tensors(train[0], train[1], batch_size, device, channels_last)
    if isinstance(train, Dataset) or (hasattr(train, "__getitem__") and hasattr(train, "__len__")):
        return _Streamed(train, batch_size, device, channels_last, workers)
    if callable(train):
        return _Factory(train, device, channels_last)
    raise ExperimentError(
        "Data.train must be (inputs, targets) tensors, a torch Dataset or a loader factory f(seed, epoch); "
        f"got {type(train).__name__}"
    )


class EvalSource:
    """The test batches: tensors in chunks of `EVAL_BATCH`, a ``Dataset`` through a ``DataLoader``, or a factory."""

    def __init__(self, test: Any, device: torch.device, channels_last: bool, workers: int) -> None:
        self.test, self.device, self.cl, self.workers = test, device, channels_last, workers
        if _pair(test):
            self.x, self.y = _resident(test, device, channels_last, "test")
            self.size: int | None = int(self.x.shape[0])
        elif callable(test) and not hasattr(test, "__getitem__"):
            self.size = None
        else:
            self.size = len(test)

    def batches(self) -> Iterator[Batch]:
        if _pair(self.test):
            for start in range(0, len(self.y), EVAL_BATCH):
                yield self.x[start : start + EVAL_BATCH], self.y[start : start + EVAL_BATCH]
            return
        loader = (
            self.test()
            if callable(self.test) and not hasattr(self.test, "__getitem__")
            else DataLoader(self.test, batch_size=EVAL_BATCH, num_workers=self.workers)
        )
        for batch in loader:
            yield _to(batch, self.device, self.cl, "the test data")


def eval_source(test: Any, device: torch.device, channels_last: bool, workers: int) -> EvalSource | None:
    """The `EvalSource` for ``Data.test``, or None when the experiment has no test data."""
    return None if test is None else EvalSource(test, device, channels_last, workers)
