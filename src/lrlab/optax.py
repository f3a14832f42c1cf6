"""The JAX / optax adapter, at its public path ``lrlab.optax``; the code lives in `lrlab.frameworks.optax`."""

from lrlab.frameworks.optax import to_optax

__all__ = ["to_optax"]
