"""Sweeps: a schedule template, a grid or random search and seeds, run as trials into a folder.

* `template` -- a text spec with ``{expression}`` placeholders, and how numbers print in specs;
* `grid` -- grid values (``w=0,1,2``, ``lr=log:1e-3:1:7``), random-search distributions, seeds;
* `sweep` -- `Sweep` itself, its expansion into trials and their ids, sweep files and presets;
* `summary` -- a sweep's results per setting and its conclusion (the statistics are `lrlab.lab.stats`);
* `run` -- the runner every backend shares: the folder, resuming, ``results.jsonl``, progress;
* `backends` -- where the trials run, one module per backend (``local``, ``ray``).
"""
