"""The built-in experiments on Fashion-MNIST: the chapter's LeNet, its TF and MXNet tab variants, and an MLP.

All train on the 60,000 training images and test on the 10,000 test images,
pixels / 255 as float32, one channel, the mean cross-entropy, plain SGD
unless told otherwise, and record loss and accuracy. `lenet` is the
chapter's experiment (the default of every command); its numbers are pinned
by the tests.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lrlab.lab import models
from lrlab.lab.data import Dataset, load_fashion_mnist
from lrlab.lab.experiment import Data, Experiment

__all__ = ["fashion_mnist_data", "lenet", "lenet_tf", "lenet_xavier", "mlp"]

DataSource = str | Path | Dataset | None


def fashion_mnist_data(dataset: Dataset) -> Data:
    """`Data` of in-memory tensors: images ``N x 1 x 28 x 28`` float32 in [0, 1], labels int64."""

    def images(a: np.ndarray[Any, Any]) -> torch.Tensor:
        x = torch.from_numpy(np.array(a, dtype=np.uint8))
        return x.to(torch.float32).div_(255.0).unsqueeze(1).contiguous()  # in place: no second float copy

    def labels(a: np.ndarray[Any, Any]) -> torch.Tensor:
        return torch.from_numpy(a.astype(np.int64))

    return Data(
        train=(images(dataset.train_images), labels(dataset.train_labels)),
        test=(images(dataset.test_images), labels(dataset.test_labels)),
        description=dataset.describe(),
    )


def _loader(source: DataSource) -> Callable[[], Data]:
    def load() -> Data:
        dataset = source if isinstance(source, Dataset) else load_fashion_mnist(source, log=_stderr)
        return fashion_mnist_data(dataset)

    return load


def _stderr(text: str) -> None:
    print(text, file=sys.stderr)


def _experiment(
    name: str, data: DataSource, model: Callable[[int], nn.Module], description: str, reference: str | None = None
) -> Experiment:
    return Experiment(
        name=name, data=_loader(data), model=model, description=description, channels_last=True, reference=reference
    )


def _lenet(seed: int) -> nn.Module:
    return models.lenet("lenet", "torch")


def _lenet_tf(seed: int) -> nn.Module:
    return models.lenet("tf", "xavier")


def _lenet_xavier(seed: int) -> nn.Module:
    return models.lenet("lenet", "xavier")


def _mlp(seed: int) -> nn.Module:
    return models.mlp()


def lenet(data: DataSource = None) -> Experiment:
    """The chapter's experiment: LeNet (ReLU, max pooling, torch's init) on Fashion-MNIST with plain SGD."""
    description = "the d2l chapter's LeNet (ReLU, max pooling) on Fashion-MNIST"
    return _experiment("fashion-mnist-lenet", data, _lenet, description, reference="chapter")


def lenet_tf(data: DataSource = None) -> Experiment:
    """The chapter's TensorFlow tab: average pooling, a sigmoid 84-unit layer, Glorot-uniform weights."""
    return _experiment(
        "fashion-mnist-lenet-tf",
        data,
        _lenet_tf,
        "the d2l chapter's TensorFlow-tab LeNet (average pooling, sigmoid, Glorot init) on Fashion-MNIST",
    )


def lenet_xavier(data: DataSource = None) -> Experiment:
    """The chapter's MXNet tab: the LeNet of the PyTorch tab with Xavier-uniform weights and zero biases."""
    return _experiment(
        "fashion-mnist-lenet-xavier", data, _lenet_xavier, "the d2l chapter's MXNet-tab LeNet (Xavier init)"
    )


def mlp(data: DataSource = None) -> Experiment:
    """Not a LeNet: a two-hidden-layer MLP (784-256-256-10, ReLU) on Fashion-MNIST."""
    experiment = _experiment("fashion-mnist-mlp", data, _mlp, "an MLP (784-256-256-10, ReLU) on Fashion-MNIST")
    return dataclasses.replace(experiment, channels_last=False)
