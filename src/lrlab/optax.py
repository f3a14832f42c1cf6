"""The JAX / optax adapter, at its public path ``lrlab.optax``; the code lives in `lrlab.frameworks.optax`."""

from lrlab.frameworks.optax import inject, to_optax

__all__ = ["inject", "to_optax"]
