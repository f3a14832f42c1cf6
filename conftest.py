"""Test-wide settings that must hold before any test module imports a framework, and shared fixtures."""

import os
from collections.abc import Iterator

import pytest

# Keras 3 runs on the torch backend here (no TensorFlow on these machines).
os.environ.setdefault("KERAS_BACKEND", "torch")

# The MXNet adapter imports mxnet, which lives only in .venv-mxnet (make test-mxnet);
# its doctests and tests run there, not in the main suite.
collect_ignore = ["src/lrlab/mxnet.py", "src/lrlab/frameworks/mxnet.py", "tests_mxnet"]


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One torch thread for a module's tests (use: ``pytestmark = pytest.mark.usefixtures("one_thread")``).

    Tiny batches gain nothing from a second thread, and 2-core machines running other work lose a lot;
    the thread count before is restored after.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
