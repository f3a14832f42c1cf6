"""Test-wide settings that must hold before any test module imports a framework."""

import os

# Keras 3 runs on the torch backend here (no TensorFlow on these machines).
os.environ.setdefault("KERAS_BACKEND", "torch")

# The MXNet adapter imports mxnet, which lives only in .venv-mxnet (make test-mxnet);
# its doctests and tests run there, not in the main suite.
collect_ignore = ["src/lrlab/mxnet.py", "src/lrlab/frameworks/mxnet.py", "tests_mxnet"]
