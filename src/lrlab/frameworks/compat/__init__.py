"""Port a recipe: the peers' scheduler calls, returning lrlab schedules.

Write the call you would write for PyTorch, Keras, optax, MXNet, the d2l
chapter, Hugging Face transformers (``hf``) or timm; get back an ordinary
lrlab schedule (built from the core families and combinators, so it prints,
parses, serialises and plots like any other) with the peer's numbers, indexed
the lrlab way: ``s(t)`` is the rate of update ``t`` (timm: of epoch ``t`` when
it steps per epoch), counting from 0.

>>> import lrlab.compat
>>> s = lrlab.compat.torch.MultiStepLR(milestones=[15, 30], gamma=0.5, base_lr=0.5)
>>> s(14), s(15), s(30)
(0.5, 0.25, 0.125)
>>> lrlab.parse(str(s)) == s
True

Same class or function names and argument names as the peer; torch's
optimizer argument is dropped and its ``base_lr`` becomes a keyword. An
argument lrlab cannot reproduce raises ``ValueError`` naming it. Where a peer
behaves oddly (an inclusive boundary, a one-based update count, a cosine that
climbs back) the schedule reproduces it; see ``docs/conventions.md``.
"""

from lrlab.frameworks.compat import d2l, hf, keras, mxnet, optax, timm, torch

__all__ = ["d2l", "hf", "keras", "mxnet", "optax", "timm", "torch"]
