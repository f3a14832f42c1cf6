"""A sweep's numbers: per setting, mean ± std and 95% interval of the final metric over seeds, and a conclusion.

The statistics are `lrlab.lab.stats`' (the same as a ``compare`` job's); this
module groups a sweep's trial results by setting (its parameter values), adds
the mean final training loss, and prints the table.

>>> results = [{"params": {"w": w}, "seed": s, "test_acc": a} for w, s, a in
...            [(0, 0, 0.80), (0, 1, 0.82), (5, 0, 0.85), (5, 1, 0.86)]]
>>> summarize(results).ranked()[0].label
'w=5'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from lrlab.errors import SweepError, closest_names
from lrlab.lab.stats import (
    LEVEL,
    Metric,
    SettingStats,
    conclude,
    format_interval,
    format_mean_std,
    format_table,
    format_value,
    rank,
)
from lrlab.sweeps.sweep import setting_id
from lrlab.sweeps.template import Number, bad, setting_label

__all__ = ["TrialResult", "SettingSummary", "Summary", "summarize", "conclusion"]


@dataclass(frozen=True)
class TrialResult:
    """The final numbers of one trial: its parameters, seed, metrics and whether it diverged."""

    params: Mapping[str, Number]
    seed: int
    metrics: Mapping[str, float]
    diverged: bool = False

    @classmethod
    def from_dict(cls, data: TrialResult | Mapping[str, Any]) -> TrialResult:
        """From ``{"params", "seed", "diverged", "metrics": {...}}`` or with the metrics at the top level."""
        if isinstance(data, TrialResult):
            return data
        if not isinstance(data, Mapping) or "params" not in data or "seed" not in data:
            raise bad("result", data, "a table with params, seed and final metrics", "summarize")
        metrics = data.get("metrics")
        if metrics is None:
            metrics = {k: v for k, v in data.items() if k not in ("params", "seed", "diverged", "trial_id")}
        return cls(dict(data["params"]), int(data["seed"]), dict(metrics), bool(data.get("diverged", False)))


@dataclass(frozen=True, kw_only=True)
class SettingSummary(SettingStats):
    """One setting's numbers over its seeds (a `lrlab.lab.stats.SettingStats` with its parameters).

    ``mean``, ``std`` (sample, ``ddof=1``) and the 95% interval
    ``mean ± t(0.975, n-1) * std / sqrt(n)`` are of the conclusion metric
    over the ``n`` seeds where it is finite; std and interval are NaN when
    ``n < 2``. The interval is clipped to the values the metric can take
    (`Metric.bounds`: an accuracy's interval over 2 seeds can otherwise
    reach far below 0). ``values`` holds the metric per seed (NaN where it
    is missing), ``train_loss`` the mean final training loss (NaN when none
    is finite); ``diverged`` counts the seeds that diverged.
    """

    params: Mapping[str, Number]
    train_loss: float

    UNNAMED: ClassVar[str] = "(no parameters)"

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON or CSV."""
        return {
            "setting": self.label,
            "params": dict(self.params),
            "seeds": list(self.seeds),
            "n": self.n,
            "mean": self.mean,
            "std": self.std,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "train_loss": self.train_loss,
            "diverged": self.diverged,
        }


@dataclass(frozen=True)
class Summary:
    """A table of settings (in the order first seen) for one metric."""

    metric: Metric
    rows: tuple[SettingSummary, ...]

    def ranked(self) -> list[SettingSummary]:
        """Settings with a finite mean, best first (ties: fewer diverged, then table order)."""
        return [r for r in rank(self.rows, self.metric) if r.n > 0]

    def cells(self, metric_title: str | None = None) -> tuple[list[str], list[list[str]]]:
        """The table as text: a header (the metric named `metric_title`, default its name) and one row per setting."""
        name = metric_title or self.metric.name
        head = ["setting", "seeds", f"final {name}: mean ± std", f"{LEVEL:.0%} interval", "mean train loss", "diverged"]
        rows = [
            [
                r.name,
                str(r.runs),
                format_mean_std(r.mean, r.std, r.n),
                format_interval(r.ci_low, r.ci_high),
                format_value(r.train_loss),
                str(r.diverged),
            ]
            for r in self.rows
        ]
        return head, rows

    def format(self) -> str:
        """The table as aligned plain text (the console's)."""
        return format_table(*self.cells())


def _finite_mean(values: Iterable[float]) -> float:
    good = [v for v in values if math.isfinite(v)]
    return float(np.mean(good)) if good else math.nan


def summarize(
    trials_results: Iterable[TrialResult | Mapping[str, Any]], metric: Metric | str = "max:test_acc"
) -> Summary:
    """Per setting: mean ± std and 95% interval of the final `metric`, mean train loss, diverged count.

    Each result gives a trial's ``params``, ``seed`` and final metrics
    (``test_acc``, ``train_loss``, ...) and its ``diverged`` flag. A diverged
    trial's metric counts when it is finite (a net that blew up still has a
    test accuracy); NaN or missing values are left out of ``n``.
    """
    target = Metric.parse(metric, where="conclusion_metric", error=SweepError)
    groups: dict[str, dict[int, TrialResult]] = {}
    for item in trials_results:
        result = TrialResult.from_dict(item)
        group = groups.setdefault(setting_id(result.params), {})
        if result.seed in group:
            raise SweepError(f"summarize: results hold {setting_label(result.params)} with seed={result.seed} twice")
        group[result.seed] = result
    if not groups:
        raise SweepError("summarize: trials_results must hold at least one result; got none")
    known = {m for rs in groups.values() for r in rs.values() for m in r.metrics}
    if target.name not in known:
        raise SweepError(f"summarize: no result has the metric {target.name!r}; {closest_names(target.name, known)}")
    rows = []
    for results in groups.values():
        params = dict(next(iter(results.values())).params)
        rows.append(
            SettingSummary.of(
                setting_label(params),
                {seed: float(r.metrics.get(target.name, math.nan)) for seed, r in results.items()},
                target,
                diverged=sum(1 for r in results.values() if r.diverged),
                params=params,
                train_loss=_finite_mean(float(r.metrics.get("train_loss", math.nan)) for r in results.values()),
            )
        )
    return Summary(target, tuple(rows))


def conclusion(summary: Summary) -> str:
    """One sentence: the best setting, its lead over the runner-up, and whether the lead is real.

    See `lrlab.lab.stats.conclude`: the lead is judged by the paired
    difference over the seeds both settings finished (the same seeds see the
    same initial weights and batches), larger than seed-to-seed noise only
    when its 95% interval excludes 0; equal means are a tie.
    """
    return conclude(summary.rows, summary.metric)
