"""lrlab.lab.models: the chapter's networks, their parameters, and the pool-before-ReLU shortcut."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lrlab.lab.experiments import BUILTIN
from lrlab.lab.experiments.fashion_mnist import lenet as lenet_experiment
from lrlab.lab.experiments.fashion_mnist import lenet_xavier
from lrlab.lab.models import lenet, mlp
from lrlab.lab.train import build_model


def _chapter_order(net: nn.Sequential) -> nn.Sequential:
    """The same modules in the chapter's order: each ReLU before its max pooling."""
    layers = list(net)
    for i in range(len(layers) - 1):
        if isinstance(layers[i], nn.MaxPool2d) and isinstance(layers[i + 1], nn.ReLU):
            layers[i], layers[i + 1] = layers[i + 1], layers[i]
    return nn.Sequential(*layers)


def test_lenet_has_the_chapters_layers_and_sizes() -> None:
    net = lenet()
    shapes = {name: tuple(p.shape) for name, p in net.named_parameters()}
    assert shapes == {
        "0.weight": (6, 1, 5, 5),
        "0.bias": (6,),
        "3.weight": (16, 6, 5, 5),
        "3.bias": (16,),
        "7.weight": (120, 400),
        "7.bias": (120,),
        "9.weight": (84, 120),
        "9.bias": (84,),
        "11.weight": (10, 84),
        "11.bias": (10,),
    }
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert sum(isinstance(m, nn.MaxPool2d) for m in net) == 2
    tf = lenet("tf")
    assert sum(isinstance(m, nn.AvgPool2d) for m in tf) == 2 and isinstance(tf[10], nn.Sigmoid)
    assert [type(m) for m in tf][:3] == [nn.Conv2d, nn.ReLU, nn.AvgPool2d]  # average pooling keeps its order


@pytest.mark.parametrize("channels_last", [False, True])
def test_pooling_before_relu_trains_bitwise_like_the_chapters_order(channels_last: bool) -> None:
    """max(relu(x)) == relu(max(x)) and the gradient reaches the same element: not one bit differs."""
    fast = build_model(lenet_experiment(), 3)
    chapter = _chapter_order(build_model(lenet_experiment(), 3))
    assert isinstance(chapter[1], nn.ReLU) and isinstance(chapter[2], nn.MaxPool2d)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    fast, chapter = fast.to(memory_format=fmt), chapter.to(memory_format=fmt)
    opts = [torch.optim.SGD(m.parameters(), lr=0.5) for m in (fast, chapter)]
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        x = torch.rand(64, 1, 28, 28, generator=g).contiguous(memory_format=fmt) * 2 - 0.5
        y = torch.randint(0, 10, (64,), generator=g)
        for model, opt in zip((fast, chapter), opts, strict=True):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    for (name, a), b in zip(fast.named_parameters(), chapter.parameters(), strict=True):
        assert torch.equal(a, b), name


def test_the_seed_decides_the_weights_and_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a, b, c = (build_model(lenet_experiment(), seed) for seed in (1, 1, 2))
    assert torch.equal(torch.get_rng_state(), before)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a[0].weight, c[0].weight)


def test_xavier_init_zeroes_the_biases() -> None:
    net = build_model(lenet_xavier(), 0)
    for module in net:
        if isinstance(module, nn.Conv2d | nn.Linear):
            assert module.bias is not None and not module.bias.any()
            fan_in = module.weight[0].numel()
            fan_out = module.weight.shape[0] * module.weight[0, 0].numel()
            assert module.weight.abs().max() <= (6 / (fan_in + fan_out)) ** 0.5


def test_bad_model_options_name_the_argument() -> None:
    with pytest.raises(ValueError, match=re.escape("variant must be one of 'lenet', 'tf'; got variant='resnet'")):
        lenet(variant="resnet")
    with pytest.raises(ValueError, match=re.escape("init must be one of 'torch', 'xavier'; got init='he'")):
        lenet(init="he")


def test_the_mlp_is_not_a_lenet_and_is_a_built_in_experiment() -> None:
    net = mlp()
    assert not any(isinstance(m, nn.Conv2d) for m in net.modules())
    assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert sum(p.numel() for p in net.parameters()) == 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    assert BUILTIN["fashion-mnist-mlp"].endswith(":mlp")
