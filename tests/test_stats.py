"""Statistics over seeds (`lrlab.lab.stats`): t quantiles, intervals, paired differences, ranking, the conclusion.

Every expected number is computed here from the data with the `statistics`
module and Student-t quantiles from published tables, never read back from
the code under test.
"""

from __future__ import annotations

import math
import statistics

import pytest

from lrlab.errors import LabError, SweepError
from lrlab.lab.stats import (
    Metric,
    compare_settings,
    conclude,
    estimate,
    format_interval,
    format_mean_std,
    format_value,
    paired_difference,
    rank,
    student_t_quantile,
)

# Student t quantiles t(0.975, df) from published tables (NIST/SEMATECH e-Handbook 1.3.6.7.2).
T975 = {1: 12.706204736, 2: 4.302652730, 3: 3.182446305, 4: 2.776445105, 5: 2.570581836, 10: 2.228138852}
ACC = (0.0, 1.0)


def interval(values: list[float], df_quantile: float) -> tuple[float, float]:
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    half = df_quantile * sd / math.sqrt(len(values))
    return mean - half, mean + half


# -- the t quantile ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("df", "value"), sorted(T975.items()))
def test_t_quantile_matches_published_tables(df: int, value: float) -> None:
    assert student_t_quantile(0.975, df) == pytest.approx(value, abs=2e-9)


def test_t_quantile_of_four_degrees_of_freedom_is_the_textbook_2_776445() -> None:
    assert round(student_t_quantile(0.975, 4), 6) == 2.776445


@pytest.mark.parametrize("p", [0.6, 0.9, 0.975, 0.995, 0.9995])
def test_t_quantile_matches_closed_forms_for_one_and_two_degrees_of_freedom(p: float) -> None:
    assert student_t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-10)  # Cauchy
    assert student_t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-10)
    assert student_t_quantile(1 - p, 7) == pytest.approx(-student_t_quantile(p, 7), rel=1e-12)


def test_t_quantile_tends_to_the_normal_and_rejects_bad_arguments() -> None:
    assert student_t_quantile(0.975, 1e7) == pytest.approx(1.959963985, abs=1e-6)
    assert student_t_quantile(0.5, 3) == 0.0
    with pytest.raises(LabError, match=r"student_t_quantile: p must be in \(0, 1\); got p=1.0"):
        student_t_quantile(1.0, 3)
    with pytest.raises(LabError, match="df must be > 0; got df=0"):
        student_t_quantile(0.9, 0)
    with pytest.raises(LabError, match="got df=inf"):
        student_t_quantile(0.9, math.inf)


# -- the metric --------------------------------------------------------------------------------------
def test_metric_direction_and_bounds() -> None:
    assert Metric.parse("max:test_acc") == Metric("test_acc", True)
    assert Metric.parse("train_loss") == Metric("train_loss", False)
    assert Metric.parse("min:test_acc") == Metric("test_acc", False)
    assert Metric.parse("test_error").higher_is_better is False
    assert Metric("test_acc").bounds == (0.0, 1.0)
    assert Metric("train_loss").bounds == (0.0, math.inf)
    assert Metric("score").bounds == (-math.inf, math.inf)
    assert str(Metric.parse("train_loss")) == "min:train_loss"


def test_a_bad_metric_names_where_it_came_from_and_raises_the_callers_error() -> None:
    with pytest.raises(LabError, match=r"metric must be NAME, max:NAME or min:NAME; got metric='best:acc'"):
        Metric.parse("best:acc")
    with pytest.raises(SweepError, match=r"conclusion_metric must be a metric name .*got conclusion_metric=''"):
        Metric.parse("", where="conclusion_metric", error=SweepError)


# -- estimates and clipping --------------------------------------------------------------------------
def test_estimate_is_mean_sample_std_and_t_interval_of_the_finite_values() -> None:
    values = [0.81, 0.84, 0.80, 0.86, 0.83]
    e = estimate([*values, math.nan])  # a missing run is left out of n
    assert e.n == 5
    assert e.mean == pytest.approx(statistics.fmean(values), abs=1e-12)
    assert e.std == pytest.approx(statistics.stdev(values), abs=1e-12)
    assert (e.ci_low, e.ci_high) == pytest.approx(interval(values, T975[4]), abs=1e-9)


def test_estimate_of_one_value_has_no_spread_and_of_none_has_no_mean() -> None:
    one = estimate([0.7, math.nan, math.inf])
    assert (one.n, one.mean) == (1, 0.7)
    assert math.isnan(one.std) and math.isnan(one.ci_low) and math.isnan(one.ci_high)
    none = estimate([math.nan])
    assert none.n == 0 and math.isnan(none.mean)


def test_intervals_are_clipped_to_what_the_metric_can_take() -> None:
    # one seed learned, one stuck at chance: mean 0.49, raw interval 0.49 ± 12.7 * 0.39 = about [-4.5, 5.5]
    values = [0.88, 0.10]
    raw_low, raw_high = interval(values, T975[1])
    assert raw_low < -4 and raw_high > 5
    acc = estimate(values, bounds=Metric("test_acc").bounds)
    assert (acc.ci_low, acc.ci_high) == (0.0, 1.0)
    assert acc.mean == pytest.approx(0.49)  # the mean and std are never clipped
    loss = estimate(values, bounds=Metric("train_loss").bounds)
    assert loss.ci_low == 0.0 and loss.ci_high == pytest.approx(raw_high)
    free = estimate(values)
    assert (free.ci_low, free.ci_high) == pytest.approx((raw_low, raw_high))
    inside = estimate([0.85, 0.86, 0.87], bounds=ACC)  # an interval inside the bounds is left as it is
    assert (inside.ci_low, inside.ci_high) == pytest.approx(interval([0.85, 0.86, 0.87], T975[2]))


# -- paired differences ------------------------------------------------------------------------------
def test_paired_difference_uses_the_seeds_both_finished() -> None:
    a = {0: 0.85, 1: 0.80, 2: 0.90, 3: 0.70}
    b = {0: 0.83, 1: 0.79, 2: math.nan, 3: 0.68, 4: 0.99}
    d = paired_difference(a, b)
    diffs = [0.85 - 0.83, 0.80 - 0.79, 0.70 - 0.68]
    assert d.seeds == (0, 1, 3) and d.n == 3
    assert d.differences == pytest.approx(diffs)
    assert d.mean == pytest.approx(statistics.fmean(diffs), abs=1e-12)
    assert d.std == pytest.approx(statistics.stdev(diffs), abs=1e-12)
    assert (d.ci_low, d.ci_high) == pytest.approx(interval(diffs, T975[2]), abs=1e-9)


def test_a_small_lead_the_same_on_every_seed_is_real() -> None:
    # the seeds move both settings a lot (0.80 .. 0.88), the lead hardly (0.002 .. 0.003)
    base = {0: 0.80, 1: 0.88, 2: 0.84, 3: 0.82}
    lead = {0: 0.002, 1: 0.003, 2: 0.0025, 3: 0.002}
    better = {s: v + lead[s] for s, v in base.items()}
    d = paired_difference(better, base)
    low, high = interval(list(lead.values()), T975[3])
    assert (d.ci_low, d.ci_high) == pytest.approx((low, high), abs=1e-9)
    assert low > 0  # excludes 0
    assert statistics.fmean(lead.values()) < statistics.stdev(base.values())  # smaller than the seed spread
    sentence = compare_settings({"base": base, "better": better}).sentence
    assert sentence.startswith("Best is better with final test_acc")
    assert f"paired over the same 4 seeds: difference {statistics.fmean(lead.values()):.4f}" in sentence
    assert f"95% interval [{low:.4f}, {high:.4f}], which excludes 0" in sentence
    assert sentence.endswith("so the lead is larger than seed-to-seed noise.")


def test_a_lead_that_flips_sign_across_seeds_is_noise() -> None:
    a = {0: 0.90, 1: 0.80, 2: 0.905}
    b = {0: 0.87, 1: 0.82, 2: 0.88}
    diffs = [0.03, -0.02, 0.025]
    low, high = interval(diffs, T975[2])
    assert low < 0 < high
    d = paired_difference(a, b)
    assert (d.ci_low, d.ci_high) == pytest.approx((low, high), abs=1e-9)
    sentence = compare_settings({"a": a, "b": b}).sentence
    assert sentence.startswith("Best is a with")
    mean = statistics.fmean(diffs)
    assert f"difference {mean:.4f}, 95% interval [{low:.4f}, {high:.4f}], which includes 0" in sentence
    assert sentence.endswith("so the lead may be seed-to-seed noise.")


def test_a_lead_by_mean_that_the_common_seeds_contradict_is_not_settled() -> None:
    # a leads by mean only thanks to seed 2, which b never finished; on seeds 0 and 1 b is ahead by 0.01
    a = {0: 0.80, 1: 0.82, 2: 0.99}
    b = {0: 0.81, 1: 0.83, 2: math.nan}
    sentence = compare_settings({"a": a, "b": b}).sentence
    assert sentence.startswith("Best is a with")
    assert "paired over the same 2 seeds: difference -0.0100" in sentence
    assert "on those seeds the runner-up does better, so the ranking by mean is not settled" in sentence


def test_for_a_loss_lower_is_better_and_the_lead_is_a_negative_difference() -> None:
    low_loss = {0: 0.30, 1: 0.35, 2: 0.32}
    high_loss = {0: 0.40, 1: 0.44, 2: 0.43}
    diffs = [-0.10, -0.09, -0.11]
    c = compare_settings({"high": high_loss, "low": low_loss}, "train_loss")
    assert [r.label for r in c.rows] == ["low", "high"]
    lo, hi = interval(diffs, T975[2])
    assert hi < 0
    assert f"difference -0.1000, 95% interval [{lo:.4f}, {hi:.4f}], which excludes 0" in c.sentence
    assert c.sentence.endswith("larger than seed-to-seed noise.")


# -- ties --------------------------------------------------------------------------------------------
def test_equal_means_are_a_tie_not_a_win() -> None:
    sentence = compare_settings({"a": {0: 0.80, 1: 0.90}, "b": {0: 0.90, 1: 0.80}}).sentence
    assert sentence.startswith("Tie for the best final test_acc: a with 0.8500 ± 0.0707 (2 seeds) and b with")
    lo, hi = interval([-0.10, 0.10], T975[1])
    assert f"paired over the same 2 seeds: difference 0.0000, 95% interval [{lo:.4f}, {hi:.4f}]" in sentence
    assert sentence.endswith("so neither is better.")
    assert "Best is" not in sentence and "ahead" not in sentence


def test_identical_results_tie_with_a_zero_interval() -> None:
    same = {0: 0.8123, 1: 0.8456, 2: 0.8301}
    sentence = compare_settings({"x": same, "y": dict(same)}).sentence
    assert sentence.startswith("Tie for the best final test_acc")
    assert "difference 0.0000, 95% interval [0.0000, 0.0000], so neither is better." in sentence


def test_means_equal_but_for_float_rounding_are_a_tie() -> None:
    # the mean of 0.50, 0.51, 0.58 is 0.53 but for the last bit of a float
    assert sum([0.50, 0.51, 0.58]) / 3 != 0.53
    tied = compare_settings({"a": {0: 0.50, 1: 0.51, 2: 0.58}, "b": {0: 0.53, 1: 0.53, 2: 0.53}})
    assert tied.rows[0].mean != tied.rows[1].mean
    assert tied.sentence.startswith("Tie for the best final test_acc")


def test_the_same_numbers_on_every_common_seed_are_a_tie_even_if_the_means_differ() -> None:
    # b's seed 2 diverged: on the seeds both finished they gave the same numbers
    a = {0: 0.80, 1: 0.84, 2: 0.90}
    b = {0: 0.80, 1: 0.84, 2: math.nan}
    sentence = compare_settings({"a": a, "b": b}, diverged={"b": 1}).sentence
    assert sentence.startswith("Tie for the best final test_acc")
    assert "(1 of 3 runs diverged)" in sentence and "so neither is better." in sentence


def test_single_seed_ties_are_ties_too() -> None:
    sentence = compare_settings({"a": {0: 0.8}, "b": {0: 0.8}}).sentence
    assert sentence == "Tie for the best final test_acc: a with 0.8000 and b with 0.8000, so neither is better."


# -- the other conclusions ---------------------------------------------------------------------------
def test_with_one_seed_the_noise_is_unknown() -> None:
    sentence = compare_settings({"w=0": {0: 0.8}, "w=5": {0: 0.9}}).sentence
    assert sentence.startswith("Best is w=5 with final test_acc 0.9000, ahead of w=0 with 0.8000 by 0.1000; ")
    assert "with a single seed each, the seed-to-seed noise is unknown" in sentence
    one = compare_settings({"a": {0: 0.9, 1: 0.92}, "b": {0: 0.8, 1: math.nan}}).sentence
    assert "with a single seed of b, the seed-to-seed noise is unknown" in one


def test_settings_on_different_seeds_cannot_be_paired() -> None:
    sentence = compare_settings({"a": {0: 0.9, 1: 0.92}, "b": {2: 0.8, 3: 0.82}}).sentence
    assert sentence.startswith("Best is a with final test_acc 0.9100 ± 0.0141 (2 seeds)")
    assert "they share 0 seeds where both finished, too few to pair" in sentence


def test_no_finite_value_means_no_best_and_one_means_only_one() -> None:
    none = compare_settings({"a": {0: math.nan}, "b": {0: math.nan, 1: math.nan}}, diverged={"a": 1, "b": 2})
    assert none.sentence == "No setting has a finite final test_acc, so none is best (3 of 3 runs diverged)."
    only = compare_settings({"a": {0: math.nan}, "b": {0: 0.7, 1: 0.8}}, diverged={"a": 1})
    assert only.sentence == "Only one setting has a finite final test_acc: b with 0.7500 ± 0.0707 (2 seeds)."


def test_compare_settings_ranks_best_first_with_the_empty_ones_last() -> None:
    c = compare_settings(
        {
            "dead": {0: math.nan, 1: math.nan},
            "mid": {0: 0.80, 1: 0.82},
            "top": {0: 0.90, 1: 0.88},
            "low": {0: 0.50, 1: 0.52},
        },
        diverged={"dead": 2},
    )
    assert [r.label for r in c.rows] == ["top", "mid", "low", "dead"]
    top = c.rows[0]
    assert (top.n, top.runs, top.seeds, top.diverged) == (2, 2, (0, 1), 0)
    assert top.mean == pytest.approx(0.89) and top.std == pytest.approx(statistics.stdev([0.90, 0.88]))
    low, high = interval([0.90, 0.88], T975[1])
    assert high > 1 and (top.ci_low, top.ci_high) == pytest.approx((low, 1.0), abs=1e-9)  # clipped
    assert c.rows[-1].diverged == 2 and c.rows[-1].n == 0
    assert conclude(reversed(c.rows), c.metric) == c.sentence  # the order given does not matter
    with pytest.raises(LabError, match="diverged must be counts of the given settings \\('gone' is not one\\)"):
        compare_settings({"a": {0: 0.5}}, diverged={"gone": 1})


def test_ranking_ties_go_to_fewer_diverged_then_the_given_order() -> None:
    rows = compare_settings({"a": {0: 0.8}, "b": {0: 0.8, 1: math.nan}, "c": {0: 0.8}}, diverged={"b": 1}).rows
    assert [r.label for r in rank(rows, Metric())] == ["a", "c", "b"]


# -- one number format -------------------------------------------------------------------------------
def test_one_number_format_for_tables_and_sentences() -> None:
    assert format_value(0.867912) == "0.8679"
    assert format_value(-0.00004) == "0.0000"  # no negative zero
    assert format_value(2.5) == "2.5000"
    assert format_value(math.nan) == "n/a" and format_value(math.inf) == "n/a"
    assert format_mean_std(0.86789, 0.00351, 2) == "0.8679 ± 0.0035 (2 seeds)"
    assert format_mean_std(0.86789, math.nan, 1) == "0.8679"  # one seed: the value alone
    assert format_mean_std(math.nan, math.nan, 0) == "n/a"
    assert format_interval(0.81519, 0.86481) == "[0.8152, 0.8648]"
    assert format_interval(math.nan, math.nan) == "n/a"
    row = compare_settings({"a": {0: 0.80, 1: 0.82, 2: 0.84}}).rows[0]
    assert row.format() == f"{0.82:.4f} ± {statistics.stdev([0.80, 0.82, 0.84]):.4f} (3 seeds)"
