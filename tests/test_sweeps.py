"""Sweeps as a user meets them: templates, grids, random search, files, presets, and the summary numbers."""

from __future__ import annotations

import math
import re
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lrlab
from lrlab.lab.stats import Metric
from lrlab.sweeps.grid import Distribution, parse_grid, parse_random, parse_seeds
from lrlab.sweeps.summary import TrialResult, conclusion, summarize
from lrlab.sweeps.sweep import Sweep, SweepError, expand, load_sweep, sweep_from_dict, sweep_names
from lrlab.sweeps.template import Template

WARMUP = "warmup(cosine(0.3, steps={30-w}, final_lr=0.01), steps={w})"
SAFE_NAME = re.compile(r"^[A-Za-z0-9._=+-]+$")


# -- the template ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("placeholder", "params", "text"),
    [
        ("{w}", {"w": 5}, "5"),
        ("{w}", {"w": 5.0}, "5"),
        ("{30-w}", {"w": 5}, "25"),
        ("{2*w+1}", {"w": 5}, "11"),
        ("{(w+1)*2}", {"w": 5}, "12"),
        ("{w/2}", {"w": 5}, "2.5"),
        ("{w//2}", {"w": 5}, "2"),
        ("{2**w}", {"w": 5}, "32"),
        ("{-w + 10}", {"w": 5}, "5"),
        ("{0.1*30}", {}, "3"),  # 3.0000000000000004 in floats: printed as the int it means
        ("{lr*10}", {"lr": 0.001}, "0.01"),
        ("{a*b}", {"a": 3, "b": 0.5}, "1.5"),
        ("{ w }", {"w": 1e-5}, "1e-05"),
    ],
)
def test_placeholders_hold_names_and_arithmetic_and_whole_results_print_as_ints(
    placeholder: str, params: dict[str, float], text: str
) -> None:
    assert Template(f"constant({placeholder})").render(params) == f"constant({text})"


def test_template_lists_the_names_it_uses() -> None:
    assert Template(WARMUP).names == {"w"}
    assert Template("cosine({lr}, steps={e*n})").names == {"lr", "e", "n"}
    assert Template("cosine(0.1, steps=10)").names == set()


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("cosine({lr, steps=3)", "unmatched '{' at character 8"),
        ("cosine({lr}, steps={n)", "unmatched '{' at character 20"),
        ("cosine(lr}, steps=3)", "unmatched '}' at character 10"),
        ("cosine({{lr}}, steps=3)", "unmatched '{' at character 8"),
        ("cosine({}, steps=3)", "placeholder {} is empty"),
        ("cosine({lr+}, steps=3)", "placeholder {lr+} is not an arithmetic expression"),
        ("cosine({lr.real}, steps=3)", "'lr.real' is not allowed"),
        ("cosine({__import__('os')}, steps=3)", "is not allowed"),
        ("cosine({abs(lr)}, steps=3)", "'abs(lr)' is not allowed"),
        ("cosine({lr if lr else 1}, steps=3)", "is not allowed"),
        ("cosine({[lr]}, steps=3)", "'[lr]' is not allowed"),
        ("cosine({'a'}, steps=3)", "is not allowed"),
        ("cosine({True}, steps=3)", "'True' is not allowed"),
        ("cosine({lr % 2}, steps=3)", "is not allowed"),
        ("  ", "template must be a non-empty text spec"),
    ],
)
def test_bad_templates_say_what_is_wrong_and_show_the_template(template: str, message: str) -> None:
    with pytest.raises(SweepError) as info:
        Template(template)
    assert message in str(info.value)
    if template.strip():
        assert f"template={template!r}" in str(info.value)


def test_placeholder_that_cannot_be_evaluated_names_the_values() -> None:
    sweep = Sweep("cosine(0.1, steps={10/w})", grid={"w": (0, 1)})
    with pytest.raises(SweepError, match=r"\{10/w\} cannot be evaluated with w=0: .*division by zero"):
        expand(sweep)
    huge = Sweep("cosine(0.1, steps={10**w})", grid={"w": (400,)})
    with pytest.raises(SweepError, match="too large"):
        expand(huge)


# -- grids ---------------------------------------------------------------------------------
def test_grid_items_list_and_ranges() -> None:
    grid = parse_grid(["w=0,1,2,5,10", "lr=log:1e-3:1:7", "m=lin:0:1:5"])
    assert list(grid) == ["w", "lr", "m"]
    assert grid["w"] == (0, 1, 2, 5, 10)
    assert all(isinstance(v, int) for v in grid["w"])
    expected_log = 10.0 ** np.linspace(-3, 0, 7)
    assert np.allclose(grid["lr"], expected_log, rtol=1e-5, atol=0)
    assert grid["lr"][0] == 1e-3 and grid["lr"][-1] == 1.0
    assert grid["m"] == (0.0, 0.25, 0.5, 0.75, 1.0)


def test_range_values_are_rounded_so_specs_stay_readable() -> None:
    sweep = Sweep("constant({lr})", grid=parse_grid(["lr=log:1e-3:1:7"]))
    assert [t.spec for t in expand(sweep)][:2] == ["constant(0.001)", "constant(0.00316228)"]


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["w="], "--grid: w must be comma-separated numbers with no empty entries; got w=''"),
        (["w=1,,2"], "--grid: w must be comma-separated numbers with no empty entries; got w='1,,2'"),
        (["w=1,x"], "--grid: w must be comma-separated numbers ('x' is not a number); got w='1,x'"),
        (["w=1,nan"], "('nan' is not a number); got w='1,nan'"),
        (["lr=log:0:1:7"], "lr must be log:START:STOP:COUNT with START > 0 and STOP > 0; got lr='log:0:1:7'"),
        (["lr=log:1e-3:-1:7"], "START > 0 and STOP > 0; got lr='log:1e-3:-1:7'"),
        (["lr=log:1e-3:1:0"], "COUNT a whole number >= 1; got lr='log:1e-3:1:0'"),
        (["lr=log:1e-3:1:2.5"], "COUNT a whole number >= 1; got lr='log:1e-3:1:2.5'"),
        (["lr=log:1e-3:1"], "log:START:STOP:COUNT"),
        (["lr=lin:a:1:3"], "got lr='lin:a:1:3'"),
        (["lr=exp:1e-3:1:3"], "valid names are lin, log"),
        (["w=1", "w=2"], "--grid: w must be given once"),
        (["w=1,1"], "w must be a list of distinct values (1 repeats)"),
        (["w=1,1.0"], "(1 repeats)"),
        (["w"], "--grid must be NAME=VALUES such as w=0,1,2,5,10; got --grid='w'"),
        (["1w=2"], "parameter name must be a name such as w or lr"),
        (["for=2"], "got parameter name='for'"),
    ],
)
def test_bad_grid_items_name_the_argument_and_value(items: list[str], message: str) -> None:
    with pytest.raises(SweepError) as info:
        parse_grid(items)
    assert message in str(info.value)


def test_sweep_checks_names_against_the_template() -> None:
    with pytest.raises(SweepError, match=r"unknown parameter 'w' \(did you mean 'wu'\?\)"):
        Sweep(WARMUP, grid={"wu": (1, 2)})
    with pytest.raises(SweepError, match=r"unknown parameter 'w' \(add it to the grid\)"):
        Sweep(WARMUP)
    with pytest.raises(SweepError, match="parameter 'x' is not used by the template"):
        Sweep(WARMUP, grid={"w": (1,), "x": (2,)})
    with pytest.raises(SweepError, match="'lr' must be in the grid or the random search, not both"):
        Sweep("constant({lr})", grid={"lr": (0.1,)}, random=parse_random(["lr=uniform:0:1"]), trials=2)


def test_a_bad_grid_value_in_a_table_names_it() -> None:
    with pytest.raises(SweepError, match=r"grid: w must be a non-empty list of numbers; got w=\[\]"):
        Sweep(WARMUP, grid={"w": []})
    with pytest.raises(SweepError, match=r"'5' is not one"):
        Sweep(WARMUP, grid={"w": [1, "5"]})  # type: ignore[list-item]
    with pytest.raises(SweepError, match=r"True is not one"):
        Sweep(WARMUP, grid={"w": [1, True]})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("seeds", [0, 0], "seeds must be a count >= 1 or a list of distinct whole numbers >= 0; got seeds=[0, 0]"),
        ("seeds", 0, "got seeds=0"),
        ("seeds", [-1], "got seeds=[-1]"),
        ("epochs", 0, "epochs must be a whole number >= 1; got epochs=0"),
        ("per", "batch", "per must be 'epoch' or 'step'; got per='batch'"),
        ("trials", 3, "trials must be 0 without random parameters"),
        ("search_seed", -1, "search_seed must be a whole number >= 0; got search_seed=-1"),
        ("options", {1: 2}, "options must be a table of option names to values"),
    ],
)
def test_bad_sweep_fields_name_the_field_and_value(field: str, value: Any, message: str) -> None:
    fields: dict[str, Any] = {"grid": {"w": (1, 2)}, field: value}
    with pytest.raises(SweepError) as info:
        Sweep(WARMUP, **fields)
    assert message in str(info.value)


def test_seeds_from_a_count_or_a_list() -> None:
    assert parse_seeds(3) == (0, 1, 2)
    assert parse_seeds("3") == (0, 1, 2)
    assert parse_seeds("4,7") == (4, 7)
    assert parse_seeds([5]) == (5,)
    with pytest.raises(SweepError, match=r"--seeds: seeds must be .*got seeds='a'"):
        parse_seeds("a", where="--seeds")


# -- expansion -----------------------------------------------------------------------------
def test_expansion_is_the_product_times_the_seeds_in_grid_order() -> None:
    sweep = Sweep("cosine({lr}, steps={30-w})", grid=parse_grid(["w=0,5", "lr=0.1,0.3,1"]), seeds=[0, 1, 2])
    trials = expand(sweep)
    assert len(trials) == 2 * 3 * 3
    assert [(t.params["w"], t.params["lr"], t.seed) for t in trials[:4]] == [
        (0, 0.1, 0),
        (0, 0.1, 1),
        (0, 0.1, 2),
        (0, 0.3, 0),
    ]
    assert trials[-1].spec == "cosine(1, steps=25)"
    assert trials[-1].schedule == lrlab.cosine(1, steps=25)
    assert len({t.trial_id for t in trials}) == len(trials)
    assert len({t.setting_id for t in trials}) == 6


def test_the_chapter_warmup_template_expands_to_the_specs_written_by_hand() -> None:
    trials = expand(Sweep(WARMUP, grid=parse_grid(["w=0,1,2,5,10"])))
    assert [t.spec for t in trials] == [
        f"warmup(cosine(0.3, steps={30 - w}, final_lr=0.01), steps={w})" for w in (0, 1, 2, 5, 10)
    ]
    assert [t.schedule(w) for t, w in zip(trials, (0, 1, 2, 5, 10), strict=True)] == pytest.approx([0.3] * 5)


def test_trial_ids_are_stable_filesystem_safe_and_ignore_int_vs_float() -> None:
    a = expand(Sweep(WARMUP, grid={"w": (5,)}, seeds=(0, 1)))
    b = expand(Sweep(WARMUP, grid={"w": (5.0,)}, seeds=(0, 1)))
    assert [t.trial_id for t in a] == [t.trial_id for t in b]
    assert re.fullmatch(r"w=5_seed=0-[0-9a-f]{8}", a[0].trial_id)
    assert a[0].trial_id != a[1].trial_id
    assert a[0].setting_id == a[1].setting_id
    assert re.fullmatch(r"w=5-[0-9a-f]{8}", a[0].setting_id)
    many = Sweep("warmup(constant({lr}), steps={-n})", grid=parse_grid(["lr=log:1e-5:1e-3:3", "n=lin:-5:-1:2"]))
    assert all(SAFE_NAME.match(t.trial_id) for t in expand(many))


def test_a_value_that_makes_a_bad_schedule_names_template_values_and_parser_message() -> None:
    sweep = Sweep(WARMUP, grid={"w": (5, 30)})
    with pytest.raises(SweepError) as info:
        expand(sweep)
    text = str(info.value)
    assert f"template {WARMUP!r} with w=30" in text
    assert "'warmup(cosine(0.3, steps=0, final_lr=0.01), steps=30)'" in text
    assert "steps must be > 0; got steps=0" in text


def test_random_search_is_repeatable_and_stays_in_range() -> None:
    random = parse_random(["lr=loguniform:1e-3:1", "w=int:0:10", "p=choice:0.5,1,2", "m=uniform:0.5:0.99"])
    template = "warmup(poly({lr}, steps=30, power={p}), steps={w}, start_lr={lr*m})"
    sweep = Sweep(template, random=random, trials=20, search_seed=0, seeds=(0, 1))
    trials = expand(sweep)
    assert len(trials) == 40
    again = expand(Sweep(template, random=random, trials=20, search_seed=0, seeds=(0, 1)))
    assert [t.trial_id for t in trials] == [t.trial_id for t in again]
    other = expand(Sweep(template, random=random, trials=20, search_seed=1, seeds=(0, 1)))
    assert [t.params for t in trials] != [t.params for t in other]
    for t in trials:
        assert 1e-3 <= t.params["lr"] <= 1
        assert t.params["w"] in range(11) and isinstance(t.params["w"], int)
        assert t.params["p"] in (0.5, 1, 2)
        assert 0.5 <= t.params["m"] <= 0.99


def test_loguniform_draws_are_uniform_in_log_space() -> None:
    dist = Distribution.parse("lr", "loguniform:1e-4:1")
    rng = np.random.default_rng(0)
    logs = np.log10([dist.sample(rng) for _ in range(4000)])
    assert abs(float(np.mean(logs < -2)) - 0.5) < 0.03  # the log-midpoint splits the draws in half
    assert abs(float(np.mean(logs < -3)) - 0.25) < 0.03


def test_random_search_combines_with_a_grid_and_counts_repeated_draws_once() -> None:
    sweep = Sweep(
        "cosine({lr}, steps={n})",
        grid={"n": (10, 20)},
        random=parse_random(["lr=choice:0.1,0.2"]),
        trials=30,
    )
    assert sorted((s["n"], s["lr"]) for s in sweep.settings()) == [(10, 0.1), (10, 0.2), (20, 0.1), (20, 0.2)]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("lr=loguniform:0:1", "lr must be loguniform:LOW:HIGH with LOW < HIGH and LOW > 0; got lr='loguniform:0:1'"),
        ("lr=uniform:1:1", "lr must be uniform:LOW:HIGH with LOW < HIGH; got lr='uniform:1:1'"),
        ("lr=uniform:1", "got lr='uniform:1'"),
        ("w=int:1.5:3", "w must be int:LOW:HIGH with whole numbers LOW <= HIGH; got w='int:1.5:3'"),
        ("lr=gauss:0:1", "(valid names are choice, int, loguniform, uniform); got lr='gauss:0:1'"),
        ("lr=logunifrom:0.1:1", "did you mean 'loguniform'"),
        ("lr=choice:", "got lr=''"),
        ("lr=0.1", "lr must be KIND:ARGS"),
    ],
)
def test_bad_random_items_name_the_argument_and_value(item: str, message: str) -> None:
    with pytest.raises(SweepError) as info:
        parse_random([item])
    assert str(info.value).startswith("--random")
    assert message in str(info.value)


def test_random_search_needs_trials() -> None:
    with pytest.raises(SweepError, match="trials must be >= 1 with a random search; got trials=0"):
        Sweep("constant({lr})", random=parse_random(["lr=uniform:0:1"]))


# -- files ---------------------------------------------------------------------------------------
TOML = """
name = "warmup"
description = "How long should warmup last?"
template = "warmup(cosine(0.3, steps={30-w}, final_lr=0.01), steps={w})"
seeds = 2
epochs = 30
per = "epoch"
conclusion_metric = "max:test_acc"

[grid]
w = [0, 5, 10]

[options]
batch_size = 128
"""

YAML = """
template: "cosine({lr}, steps={n})"
grid:
  n: "lin:10:30:3"
random:
  lr: "loguniform:1e-3:1"
trials: 4
search_seed: 7
seeds: [0, 1]
epochs: 12
per: step
options: {batch_size: 64}
conclusion_metric: train_loss
"""


def test_a_toml_file_is_a_sweep(tmp_path: Path) -> None:
    path = tmp_path / "warmup.toml"
    path.write_text(TOML)
    sweep = load_sweep(path)
    assert sweep == Sweep(
        WARMUP,
        grid={"w": (0, 5, 10)},
        seeds=(0, 1),
        epochs=30,
        options={"batch_size": 128},
        name="warmup",
        description="How long should warmup last?",
    )
    assert len(expand(sweep)) == 6
    assert sweep_from_dict(sweep.to_dict()) == sweep


def test_a_yaml_file_is_a_sweep(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    path = tmp_path / "lr.yaml"
    path.write_text(YAML)
    sweep = load_sweep(path)
    assert sweep.name == "lr"
    assert sweep.grid == {"n": (10.0, 20.0, 30.0)}
    assert str(sweep.random["lr"]) == "loguniform:0.001:1"
    assert (sweep.trials, sweep.search_seed, sweep.seeds, sweep.epochs, sweep.per) == (4, 7, (0, 1), 12, "step")
    assert sweep.conclusion_metric == Metric("train_loss", higher_is_better=False)
    assert len(expand(sweep)) == 3 * 4 * 2
    assert sweep_from_dict(sweep.to_dict(), name="lr") == sweep


def test_yaml_without_pyyaml_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "lr.yml"
    path.write_text(YAML)
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(SweepError, match="needs PyYAML: pip install pyyaml"):
        load_sweep(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (TOML.replace("[grid]", "[grids]"), "unknown field 'grids'; did you mean 'grid'"),
        (TOML.replace('template = "warmup', 'templat = "warmup'), "unknown field 'templat'"),
        (TOML.replace("w = [0, 5, 10]", 'w = "0,,5"'), "grid: w must be comma-separated numbers"),
        (TOML.replace("w = [0, 5, 10]", "x = [1]"), "unknown parameter 'w'"),
        (TOML.replace("seeds = 2", "seeds = [1, 1]"), "got seeds=[1, 1]"),
        (TOML.replace('per = "epoch"', 'per = "batch"'), "per must be 'epoch' or 'step'"),
        (TOML.replace('"max:test_acc"', '"best:test_acc"'), "conclusion_metric must be NAME, max:NAME or min:NAME"),
        ("random = 3\n" + TOML, "random must be a table"),
        ("template = [", "is not valid TOML"),
    ],
)
def test_bad_sweep_files_say_what_and_where(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SweepError) as info:
        load_sweep(path)
    assert "'bad'" in str(info.value)
    assert message in str(info.value)


def test_missing_files_and_unknown_names() -> None:
    with pytest.raises(SweepError, match=r"sweep file '/nonexistent/sweep\.toml' does not exist"):
        load_sweep("/nonexistent/sweep.toml")
    with pytest.raises(SweepError, match="unknown sweep 'exercise-warmup'; did you mean 'exercise-warmup-length'"):
        load_sweep("exercise-warmup")


# -- the presets -----------------------------------------------------------------------------------
def test_the_exercise_presets_load_and_every_spec_parses() -> None:
    names = sweep_names()
    assert {"exercise-fixed-lr", "exercise-poly-exponent", "exercise-warmup-length"} <= set(names)
    for name in names:
        sweep = load_sweep(name)
        assert sweep.name == name and sweep.description
        trials = expand(sweep)
        assert len(trials) >= 4 * 2
        for trial in trials:
            assert lrlab.parse(trial.spec) == trial.schedule


def test_the_exercise_presets_sweep_what_the_exercises_ask() -> None:
    fixed = load_sweep("exercise-fixed-lr")
    lrs = sorted({t.params["lr"] for t in expand(fixed)})
    assert lrs[0] == 0.01 and lrs[-1] == 1.0 and len(lrs) >= 4
    assert np.allclose(np.diff(np.log(lrs)), np.log(lrs[1] / lrs[0]), rtol=1e-4)  # a log grid
    assert all(t.schedule(0) == t.schedule(29) == t.params["lr"] for t in expand(fixed))

    poly = load_sweep("exercise-poly-exponent")
    assert sorted({t.params["p"] for t in expand(poly)}) == [0.5, 1, 2, 3]
    assert {t.schedule.to_dict()["power"] for t in expand(poly)} == {0.5, 1, 2, 3}

    warm = load_sweep("exercise-warmup-length")
    assert warm.template == WARMUP
    assert warm.grid == {"w": (0, 1, 2, 5, 10)}
    assert len(warm.seeds) >= 2


# -- analysis --------------------------------------------------------------------------------------
# (the statistics themselves are tested in test_stats.py; here: how a sweep's results are grouped and told)
#: Student t quantiles t(0.975, df) from published tables (NIST/SEMATECH e-Handbook 1.3.6.7.2)
T975 = {1: 12.706204736, 2: 4.302652730}


def _results(table: dict[int, list[tuple[float, float, bool]]]) -> list[dict[str, Any]]:
    return [
        {"params": {"w": w}, "seed": seed, "test_acc": acc, "train_loss": loss, "diverged": div}
        for w, rows in table.items()
        for seed, (acc, loss, div) in enumerate(rows)
    ]


def _interval(values: list[float], t: float) -> tuple[float, float]:
    half = t * statistics.stdev(values) / math.sqrt(len(values))
    return statistics.fmean(values) - half, statistics.fmean(values) + half


def test_an_accuracys_interval_stays_within_0_and_1() -> None:
    # two seeds, one learned and one stuck at chance: mean 0.49, t(0.975, 1) = 12.7 makes the raw
    # interval about [-4.5, 5.5]
    summary = summarize(_results({1: [(0.88, 0.3, False), (0.10, 2.3, False)]}))
    row = summary.rows[0]
    assert row.mean == pytest.approx(0.49) and row.std == pytest.approx(0.78 / math.sqrt(2))
    assert (row.ci_low, row.ci_high) == (0.0, 1.0)
    loss = summarize(_results({1: [(0.88, 0.3, False), (0.10, 2.3, False)]}), "min:train_loss").rows[0]
    assert loss.ci_low == 0.0 and loss.ci_high == pytest.approx(1.3 + T975[1] * math.sqrt(2) / math.sqrt(2))


def test_summary_numbers_per_setting() -> None:
    table = {
        0: [(0.80, 0.50, False), (0.82, 0.40, False), (0.84, 0.30, False)],
        5: [(0.85, 0.35, False), (0.86, 0.25, False), (0.87, 0.30, False)],
    }
    summary = summarize(_results(table))
    assert [r.label for r in summary.rows] == ["w=0", "w=5"]
    for row, w in zip(summary.rows, (0, 5), strict=True):
        accs = [a for a, _, _ in table[w]]
        mean, sd = statistics.fmean(accs), statistics.stdev(accs)
        assert (row.n, row.runs, row.seeds, row.diverged) == (3, 3, (0, 1, 2), 0)
        assert row.params == {"w": w}
        assert row.values == pytest.approx(dict(enumerate(accs)))
        assert row.mean == pytest.approx(mean, abs=1e-12)
        assert row.std == pytest.approx(sd, abs=1e-12)
        assert (row.ci_low, row.ci_high) == pytest.approx(_interval(accs, T975[2]), abs=1e-9)
        assert row.train_loss == pytest.approx(statistics.fmean(loss for _, loss, _ in table[w]), abs=1e-12)
        assert row.as_dict()["seeds"] == [0, 1, 2] and row.as_dict()["setting"] == f"w={w}"
    assert summary.rows[0].std == pytest.approx(0.02, abs=1e-12)
    assert summary.rows[0].ci_high - summary.rows[0].ci_low == pytest.approx(2 * T975[2] * 0.02 / math.sqrt(3))
    text = summary.format()
    low, high = _interval([0.80, 0.82, 0.84], T975[2])
    assert "w=0" in text and "95% interval" in text
    assert "0.8200 ± 0.0200 (3 seeds)" in text and "0.8600 ± 0.0100 (3 seeds)" in text
    assert f"[{low:.4f}, {high:.4f}]" in text


def test_conclusion_names_the_best_and_judges_its_lead_by_the_paired_differences() -> None:
    clear = summarize(
        _results(
            {
                0: [(0.80, 0.5, False), (0.82, 0.4, False), (0.84, 0.3, False)],  # mean 0.82, sd 0.02
                5: [(0.85, 0.3, False), (0.86, 0.3, False), (0.87, 0.3, False)],  # mean 0.86, sd 0.01
            }
        )
    )
    sentence = conclusion(clear)
    assert sentence.startswith(
        "Best is w=5 with final test_acc 0.8600 ± 0.0100 (3 seeds), ahead of w=0 with 0.8200 ± 0.0200 (3 seeds) "
        "by 0.0400; "
    )
    low, high = _interval([0.05, 0.04, 0.03], T975[2])  # w=5 minus w=0, seed by seed
    assert f"paired over the same 3 seeds: difference 0.0400, 95% interval [{low:.4f}, {high:.4f}]" in sentence
    assert sentence.endswith("which excludes 0, so the lead is larger than seed-to-seed noise.")

    noisy = summarize(
        _results(
            {
                1: [(0.84, 0.3, False), (0.86, 0.3, False), (0.88, 0.3, False)],  # mean 0.86
                2: [(0.87, 0.3, False), (0.85, 0.3, False), (0.89, 0.3, False)],  # mean 0.87
                3: [(0.10, 2.3, True), (0.10, 2.3, True), (0.10, 2.3, True)],
            }
        )
    )
    sentence = conclusion(noisy)
    assert sentence.startswith("Best is w=2 with final test_acc 0.8700 ± 0.0200 (3 seeds), ahead of w=1")
    low, high = _interval([0.03, -0.01, 0.01], T975[2])  # the lead changes sign from seed to seed
    assert low < 0 < high
    assert f"difference 0.0100, 95% interval [{low:.4f}, {high:.4f}], which includes 0" in sentence
    assert sentence.endswith("so the lead may be seed-to-seed noise.")
    assert noisy.rows[2].diverged == 3
    assert [r.label for r in noisy.ranked()] == ["w=2", "w=1", "w=3"]


def test_a_sweep_whose_settings_give_the_same_numbers_ties() -> None:
    same = [(0.81, 0.4, False), (0.84, 0.4, False)]
    sentence = conclusion(summarize(_results({1: same, 2: list(same)})))
    assert sentence.startswith("Tie for the best final test_acc: w=1 with 0.8250 ± 0.0212 (2 seeds) and w=2 with")
    assert sentence.endswith("difference 0.0000, 95% interval [0.0000, 0.0000], so neither is better.")


def test_conclusion_with_one_seed_says_the_noise_is_unknown() -> None:
    summary = summarize(_results({0: [(0.8, 0.5, False)], 5: [(0.9, 0.4, False)]}))
    assert math.isnan(summary.rows[0].std) and math.isnan(summary.rows[0].ci_low)
    sentence = conclusion(summary)
    assert sentence.startswith("Best is w=5 with final test_acc 0.9000, ahead of w=0 with 0.8000 by 0.1000")
    assert "the seed-to-seed noise is unknown" in sentence


def test_lower_is_better_metrics_and_non_finite_values() -> None:
    results = _results(
        {
            0: [(0.80, 0.50, False), (0.82, 0.40, False)],
            5: [(0.85, 0.20, False), (0.86, math.nan, True)],
        }
    )
    summary = summarize(results, metric="train_loss")
    assert summary.metric == Metric("train_loss", higher_is_better=False)
    best = summary.ranked()[0]
    assert best.label == "w=5" and best.n == 1 and best.mean == 0.2 and best.diverged == 1
    sentence = conclusion(summary)
    assert sentence.startswith("Best is w=5 with final train_loss 0.2000 (1 of 2 runs diverged), ahead of w=0")
    assert "with a single seed of w=5" in sentence
    acc = summarize(results)
    assert acc.rows[1].train_loss == 0.20  # the NaN loss is left out of the mean


def test_a_setting_without_parameters_is_named_so() -> None:
    summary = summarize([{"params": {}, "seed": 0, "test_acc": 0.5}, {"params": {}, "seed": 1, "test_acc": 0.7}])
    assert summary.format().splitlines()[1].startswith("(no parameters)")
    assert conclusion(summary).startswith("Only one setting has a finite final test_acc: (no parameters) with 0.6000")


def test_summarize_reads_nested_metrics_and_catches_mistakes() -> None:
    nested: list[TrialResult | dict[str, Any]] = [
        TrialResult({"w": 1}, 0, {"test_acc": 0.5}),
        {"params": {"w": 1}, "seed": 1, "metrics": {"test_acc": 0.7}, "diverged": False},
    ]
    row = summarize(nested).rows[0]
    assert row.mean == pytest.approx(0.6) and math.isnan(row.train_loss)
    with pytest.raises(SweepError, match="w=1 with seed=0 twice"):
        summarize([*nested, {"params": {"w": 1.0}, "seed": 0, "test_acc": 0.1}])
    with pytest.raises(SweepError, match="no result has the metric 'test_accuracy'; did you mean 'test_acc'"):
        summarize(nested, metric="test_accuracy")
    with pytest.raises(SweepError, match="conclusion_metric must be NAME, max:NAME or min:NAME"):
        summarize(nested, metric="best:test_acc")
    with pytest.raises(SweepError, match="at least one result"):
        summarize([])
    with pytest.raises(SweepError, match="summarize: result must be a table with params, seed and final metrics"):
        summarize([{"seed": 0}])
    all_nan = summarize([{"params": {"w": 1}, "seed": 0, "test_acc": math.nan, "diverged": True}])
    assert conclusion(all_nan) == "No setting has a finite final test_acc, so none is best (1 of 1 runs diverged)."


def test_a_presets_description_follows_what_was_run() -> None:
    base = load_sweep("exercise-fixed-lr").to_dict()
    short = sweep_from_dict({**base, "epochs": 3, "seeds": [0], "options": {"experiment": "fashion-mnist-mlp"}})
    text = short.describe()
    assert "3 epochs of fashion-mnist-mlp, 1 seed each" in text and "30 epochs" not in text
    assert "30 epochs of fashion-mnist-lenet, 3 seeds each" in load_sweep("exercise-fixed-lr").describe()
