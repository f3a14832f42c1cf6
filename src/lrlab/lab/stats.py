"""Statistics over seeds: mean ± std, 95% intervals, paired differences, and the one-sentence conclusion.

Every comparison in lrlab -- the settings of a sweep, the schedules of a
``compare`` job -- is the same question: given, per setting, the final
metric of each seed, which setting is best, and is its lead larger than
what changing the seed alone would do? This module answers it once.

* `estimate`: mean, sample std (``ddof=1``) and the 95% Student-t interval
  ``mean ± t(0.975, n-1) * std / sqrt(n)`` of the finite values, the interval
  clipped to what the metric can take (`Metric.bounds`).
* `paired_difference`: two settings run with the same seeds see the same
  initial weights and the same batches, so their per-seed differences cancel
  most of the seed-to-seed noise; the mean difference and its 95% interval
  over the seeds both finished say whether a lead is real.
* `compare_settings` / `rank` / `conclude`: rows ranked best first and one
  sentence naming the best, its lead over the runner-up and whether that
  lead is larger than seed-to-seed noise (a tie is called a tie).
* `format_value`, `format_mean_std`, `format_interval`: the one number format
  of tables and sentences -- 4 decimals, ``n/a`` for a missing value:

>>> format_mean_std(0.86789, 0.00351, 2), format_mean_std(0.86789, math.nan, 1), format_mean_std(math.nan, 0.1, 0)
('0.8679 ± 0.0035 (2 seeds)', '0.8679', 'n/a')

The t quantile is SciPy's (`scipy.stats.t.ppf`), imported on first use.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

import numpy as np

from lrlab.errors import LabError, LrlabError, invalid

__all__ = [
    "LEVEL",
    "Metric",
    "Estimate",
    "PairedDifference",
    "SettingStats",
    "Comparison",
    "student_t_quantile",
    "estimate",
    "paired_difference",
    "rank",
    "conclude",
    "compare_settings",
    "format_value",
    "format_mean_std",
    "format_interval",
    "format_table",
]

#: the coverage of every interval lrlab reports
LEVEL = 0.95
#: decimals of every number in tables and sentences
DECIMALS = 4
#: means (and paired differences) closer than this, relative to their size, are equal: a tie
_TIE_REL, _TIE_ABS = 1e-9, 1e-12


# -- the metric ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Metric:
    """The final metric settings are judged by, and its direction.

    Written ``"max:test_acc"`` or ``"min:train_loss"``; without a prefix,
    names containing ``loss`` or ``error`` are minimised, others maximised.

    >>> Metric.parse("train_loss"), str(Metric())
    (Metric(name='train_loss', higher_is_better=False), 'max:test_acc')
    """

    name: str = "test_acc"
    higher_is_better: bool = True

    @classmethod
    def parse(cls, text: Any, *, where: str = "metric", error: type[LrlabError] = LabError) -> Metric:
        """Read ``[max:|min:]NAME``; a bad text raises `error` naming `where` and the text."""
        if isinstance(text, Metric):
            return text
        example = "a metric name such as 'test_acc' or 'min:train_loss'"
        if not isinstance(text, str) or not text.strip():
            raise invalid(where, text, example, error=error)
        head, _, tail = text.strip().rpartition(":")
        if head and head not in ("max", "min"):
            raise invalid(where, text, "NAME, max:NAME or min:NAME", error=error)
        if not tail.isidentifier():
            raise invalid(where, text, example, error=error)
        if head:
            return cls(tail, head == "max")
        return cls(tail, not ("loss" in tail or "error" in tail))

    def __str__(self) -> str:
        return f"{'max' if self.higher_is_better else 'min'}:{self.name}"

    @property
    def bounds(self) -> tuple[float, float]:
        """The values the metric can take: [0, 1] for an accuracy, [0, inf) for a loss, else unbounded."""
        if self.name.endswith("acc") or self.name.endswith("accuracy"):
            return 0.0, 1.0
        if "loss" in self.name or "error" in self.name:
            return 0.0, math.inf
        return -math.inf, math.inf


# -- numbers ---------------------------------------------------------------------------------------
def student_t_quantile(p: float, df: float) -> float:
    """The `p`-quantile of Student's t distribution with `df` degrees of freedom (`scipy.stats.t.ppf`).

    >>> round(student_t_quantile(0.975, 4), 6)
    2.776445
    """
    if not (0.0 < p < 1.0):
        raise invalid("p", p, "in (0, 1)", where="student_t_quantile", error=LabError)
    if not (df > 0 and math.isfinite(df)):
        raise invalid("df", df, "> 0", where="student_t_quantile", error=LabError)
    from scipy import stats  # type: ignore[import-untyped]

    return float(stats.t.ppf(p, df))


def _clip(x: float, bounds: tuple[float, float]) -> float:
    return x if math.isnan(x) else min(max(x, bounds[0]), bounds[1])


@dataclass(frozen=True)
class Estimate:
    """Mean, sample std and 95% interval of the ``n`` finite values (std and interval NaN when ``n < 2``)."""

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float

    def format(self) -> str:
        """``0.8679 ± 0.0035 (2 seeds)``: see `format_mean_std`."""
        return format_mean_std(self.mean, self.std, self.n)


def estimate(values: Iterable[float], *, bounds: tuple[float, float] = (-math.inf, math.inf)) -> Estimate:
    """Mean, sample std (``ddof=1``) and 95% t-interval of the finite `values`, the interval clipped to `bounds`.

    NaN values (missing or diverged runs) are left out of ``n``. Two seeds of
    an accuracy, one learned and one at chance, have a raw interval far
    outside [0, 1]; clipped, it says only what an accuracy can be:

    >>> e = estimate([0.88, 0.10], bounds=(0.0, 1.0))
    >>> e.n, round(e.mean, 4), (e.ci_low, e.ci_high)
    (2, 0.49, (0.0, 1.0))
    """
    good = np.array([v for v in (float(x) for x in values) if math.isfinite(v)], dtype=np.float64)
    n = int(good.size)
    mean = float(good.mean()) if n else math.nan
    std = float(good.std(ddof=1)) if n >= 2 else math.nan
    half = student_t_quantile(0.5 + LEVEL / 2, n - 1) * std / math.sqrt(n) if n >= 2 else math.nan
    return Estimate(n, mean, std, _clip(mean - half, bounds), _clip(mean + half, bounds))


@dataclass(frozen=True, kw_only=True)
class PairedDifference(Estimate):
    """`estimate` of the per-seed differences ``a[seed] - b[seed]`` over the `seeds` where both are finite."""

    seeds: tuple[int, ...]
    differences: tuple[float, ...]

    @property
    def all_zero(self) -> bool:
        """Whether every per-seed difference is 0 (the two settings gave the same numbers)."""
        return self.n > 0 and all(_same(d, 0.0) for d in self.differences)


def paired_difference(a: Mapping[int, float], b: Mapping[int, float]) -> PairedDifference:
    """The differences ``a - b`` seed by seed, their mean and 95% interval (not clipped).

    For two settings run with the same seeds: each seed fixes the initial
    weights and the order of the batches, so the per-seed difference removes
    what the seed does to both. A lead that is small but the same on every
    seed is real; one that changes sign from seed to seed is noise:

    >>> d = paired_difference({0: 0.81, 1: 0.86, 2: 0.84}, {0: 0.80, 1: 0.85, 2: 0.83})
    >>> d.n, round(d.mean, 4), d.ci_low > 0
    (3, 0.01, True)
    """
    seeds = tuple(s for s in a if s in b and math.isfinite(a[s]) and math.isfinite(b[s]))
    differences = tuple(float(a[s]) - float(b[s]) for s in seeds)
    e = estimate(differences)
    return PairedDifference(e.n, e.mean, e.std, e.ci_low, e.ci_high, seeds=seeds, differences=differences)


def _same(x: float, y: float) -> bool:
    return math.isclose(x, y, rel_tol=_TIE_REL, abs_tol=_TIE_ABS)


def format_value(x: float) -> str:
    """A number as tables and sentences print it: 4 decimals, ``n/a`` when not finite.

    >>> format_value(0.867912), format_value(-0.00001), format_value(math.nan)
    ('0.8679', '0.0000', 'n/a')
    """
    if not math.isfinite(x):
        return "n/a"
    text = f"{x:.{DECIMALS}f}"
    return f"{0.0:.{DECIMALS}f}" if float(text) == 0 else text


def format_mean_std(mean: float, std: float, n: int) -> str:
    """``0.8679 ± 0.0035 (2 seeds)``; one seed (or no std) prints the value alone; no value prints ``n/a``."""
    if not math.isfinite(mean):
        return "n/a"
    if n < 2 or not math.isfinite(std):
        return format_value(mean)
    return f"{format_value(mean)} ± {format_value(std)} ({n} seeds)"


def format_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Text cells as an aligned plain-text table (two spaces between columns), for the console.

    >>> print(format_table(["a", "bb"], [["xyz", "1"]]))
    a    bb
    xyz  1
    """
    lines = [list(head), *(list(r) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines)


def format_interval(low: float, high: float) -> str:
    """``[0.8152, 0.8648]``, or ``n/a`` when either end is missing."""
    if math.isnan(low) or math.isnan(high):
        return "n/a"
    return f"[{format_value(low)}, {format_value(high)}]"


# -- settings --------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class SettingStats(Estimate):
    """One setting (a sweep's parameter values, a compared schedule): its final metric per seed and its `Estimate`.

    ``values`` maps each seed to its final metric, NaN where the run is
    missing or gave none; ``diverged`` counts the runs that diverged.
    """

    label: str
    values: Mapping[int, float]
    diverged: int = 0

    #: how `name` shows a setting without a label
    UNNAMED: ClassVar[str] = "(unnamed)"

    @classmethod
    def of(cls, label: str, values: Mapping[int, float], metric: Metric, *, diverged: int = 0, **extra: Any) -> Self:
        """The row of a setting; `extra` fills the fields a subclass adds."""
        e = estimate(values.values(), bounds=metric.bounds)
        return cls(
            e.n, e.mean, e.std, e.ci_low, e.ci_high, label=label, values=dict(values), diverged=diverged, **extra
        )

    @property
    def seeds(self) -> tuple[int, ...]:
        """The seeds of this setting's runs, finished or not."""
        return tuple(self.values)

    @property
    def runs(self) -> int:
        """Number of runs (seeds) of this setting."""
        return len(self.values)

    @property
    def name(self) -> str:
        """The label, or `UNNAMED` when it is empty."""
        return self.label or self.UNNAMED


Row = TypeVar("Row", bound=SettingStats)


def rank(rows: Iterable[Row], metric: Metric) -> list[Row]:
    """Best first by mean (ties: fewer diverged, then the given order); settings with no value last."""
    rows = list(rows)
    sign = -1.0 if metric.higher_is_better else 1.0
    ranked = sorted((r for r in rows if r.n > 0), key=lambda r: (sign * r.mean, r.diverged))
    return ranked + [r for r in rows if r.n == 0]


def _describe(row: SettingStats) -> str:
    text = row.format()
    if row.diverged:
        text += f" ({row.diverged} of {row.runs} runs diverged)"
    return text


def _verdict(paired: PairedDifference, metric: Metric) -> str:
    sign = 1.0 if metric.higher_is_better else -1.0
    if sign * paired.ci_low > 0 and sign * paired.ci_high > 0:
        return "which excludes 0, so the lead is larger than seed-to-seed noise"
    if sign * paired.ci_low < 0 and sign * paired.ci_high < 0:
        return (
            "which excludes 0 on the runner-up's side: on those seeds the runner-up does better, "
            "so the ranking by mean is not settled"
        )
    return "which includes 0, so the lead may be seed-to-seed noise"


def conclude(rows: Iterable[SettingStats], metric: Metric) -> str:
    """One sentence: the best setting, its lead over the runner-up, and whether that lead is real.

    When both have at least two seeds in common, the lead is judged by the
    `paired_difference` over those seeds: larger than seed-to-seed noise
    only when its 95% interval excludes 0. Equal means -- or paired
    differences that are all 0 -- are a tie, never a win.
    """
    rows = list(rows)
    ranked = [r for r in rank(rows, metric) if r.n > 0]
    name = metric.name
    if not ranked:
        diverged = sum(r.diverged for r in rows)
        runs = sum(r.runs for r in rows)
        return f"No setting has a finite final {name}, so none is best ({diverged} of {runs} runs diverged)."
    best = ranked[0]
    if len(ranked) == 1:
        return f"Only one setting has a finite final {name}: {best.name} with {_describe(best)}."
    second = ranked[1]
    paired = paired_difference(best.values, second.values)
    pairs = (
        f"paired over the same {paired.n} seeds: difference {format_value(paired.mean)}, "
        f"{LEVEL:.0%} interval {format_interval(paired.ci_low, paired.ci_high)}"
    )
    if _same(best.mean, second.mean) or (paired.n >= 2 and paired.all_zero):
        both = f"{best.name} with {_describe(best)} and {second.name} with {_describe(second)}"
        return (
            f"Tie for the best final {name}: {both}"
            + (f"; {pairs}" if paired.n >= 2 else "")
            + ", so neither is better."
        )
    lead = abs(best.mean - second.mean)
    head = (
        f"Best is {best.name} with final {name} {_describe(best)}, ahead of {second.name} "
        f"with {_describe(second)} by {format_value(lead)}"
    )
    if paired.n >= 2:
        return f"{head}; {pairs}, {_verdict(paired, metric)}."
    if best.n >= 2 and second.n >= 2:
        return (
            f"{head}; they share {paired.n} seed{'' if paired.n == 1 else 's'} where both finished, too few "
            "to pair, so the seed-to-seed noise of the lead is unknown."
        )
    single = "each" if best.n < 2 and second.n < 2 else f"of {(best if best.n < 2 else second).name}"
    return (
        f"{head}; with a single seed {single}, the seed-to-seed noise is unknown, so run more seeds before "
        "trusting the lead."
    )


@dataclass(frozen=True)
class Comparison:
    """`compare_settings`' answer: the rows, best first, and the conclusion sentence."""

    metric: Metric
    rows: tuple[SettingStats, ...]
    sentence: str


def compare_settings(
    settings: Mapping[str, Mapping[int, float]],
    metric: Metric | str = "max:test_acc",
    *,
    diverged: Mapping[str, int] | None = None,
) -> Comparison:
    """Rank settings by their final metric over seeds and conclude in one sentence.

    `settings` maps each setting's label to ``{seed: final metric}`` (NaN for
    a missing or diverged run); `diverged` counts the diverged runs per label.

    >>> c = compare_settings({"cosine": {0: 0.90, 1: 0.91}, "constant": {0: 0.88, 1: 0.90}})
    >>> [r.label for r in c.rows], c.rows[0].format()
    (['cosine', 'constant'], '0.9050 ± 0.0071 (2 seeds)')
    """
    target = Metric.parse(metric)
    counts = dict(diverged or {})
    for label in counts:
        if label not in settings:
            raise invalid("diverged", counts, f"counts of the given settings ({label!r} is not one)", error=LabError)
    rows = [SettingStats.of(label, values, target, diverged=counts.get(label, 0)) for label, values in settings.items()]
    return Comparison(target, tuple(rank(rows, target)), conclude(rows, target))
