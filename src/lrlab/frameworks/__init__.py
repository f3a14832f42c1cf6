"""Bridges from lrlab schedules to the frameworks that train with them.

One module per framework (`torch`, `keras`, `optax`, `mxnet`), each importing
its framework only when imported itself; `plateau` (reduce-on-plateau on top
of any schedule, framework-free) and `compat` (the peers' scheduler calls as
lrlab schedules, framework-free). Users import them by their short public
paths: ``lrlab.torch``, ``lrlab.keras``, ``lrlab.optax``, ``lrlab.mxnet``,
``lrlab.plateau`` and ``lrlab.compat.<peer>``.
"""
