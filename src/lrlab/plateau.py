"""Reduce-on-plateau, at its public path ``lrlab.plateau``; the code lives in `lrlab.frameworks.plateau`."""

from lrlab.frameworks.plateau import Plateau

__all__ = ["Plateau"]
