"""lrlab.reports.sweep on sweep folders written by hand (`report_folders.sweep_folder`): no training needed.

The report of a sweep run for real is tested in test_sweep_run.py; here, what a
reader notices: the swept schedules are drawn, integer parameters get integer
ticks, the page is self-contained and links every PNG it writes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import lrlab
from lrlab.lab.store import ResultsError
from lrlab.reports.plots import png_bytes
from lrlab.reports.sweep import is_sweep_folder, sweep_figures, write_sweep_report
from lrlab.sweeps.sweep import expand
from report_folders import sweep_folder


def test_the_figures_include_the_swept_schedules(tmp_path: Path) -> None:
    sweep = sweep_folder(tmp_path / "sweep")
    figures = sweep_figures(tmp_path / "sweep")
    assert list(figures) == ["schedules", "param: lr", "param: steps", "curves"]
    ax = figures["schedules"].axes[0]
    lines = ax.get_lines()
    specs = list(dict.fromkeys(t.spec for t in expand(sweep)))
    assert len(lines) == len(specs) == 9  # one per setting
    for line, spec in zip(lines, specs, strict=True):
        # each setting's schedule at epochs 0..2, epoch k's rate drawn over (k-1, k]
        assert list(line.get_xdata()) == [0, 1, 2, 3]
        assert list(line.get_ydata())[1:] == pytest.approx(lrlab.parse(spec)(np.arange(3.0)))
    assert ax.get_ylim()[0] == 0


def test_per_step_sweeps_draw_every_update(tmp_path: Path) -> None:
    sweep_folder(tmp_path / "sweep", template="cosine({lr}, steps=12)", grid={"lr": (0.1, 0.2)}, per="step")
    (line, _) = sweep_figures(tmp_path / "sweep")["schedules"].axes[0].get_lines()
    x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    assert len(x) == 3 * 4 + 1 and x[-1] == 3  # 4 updates per epoch (the run records' batches_per_epoch)
    assert y[1:] == pytest.approx(lrlab.parse("cosine(0.1, steps=12)")(np.arange(12.0)))


def test_integer_parameters_get_integer_ticks(tmp_path: Path) -> None:
    sweep_folder(tmp_path / "sweep", grid={"lr": (0.1, 0.3), "steps": (2, 3, 5)})
    fig = sweep_figures(tmp_path / "sweep")["param: steps"]
    png_bytes(fig)
    labels = [t.get_text() for t in fig.axes[0].xaxis.get_ticklabels() if t.get_text()]
    assert labels and all(re.fullmatch(r"\d+", t) for t in labels), labels


def test_log_spaced_rates_read_as_plain_numbers(tmp_path: Path) -> None:
    sweep_folder(tmp_path / "sweep", template="constant({lr})", grid={"lr": (0.01, 0.03, 0.1, 0.3, 1.0)})
    fig = sweep_figures(tmp_path / "sweep")["param: lr"]
    png_bytes(fig)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.xaxis.get_ticklabels(which="both") if t.get_text()]
    assert ax.get_xscale() == "log"
    assert "0.1" in labels and not [t for t in labels if "times" in t]


def test_the_report_is_self_contained_and_links_every_png(tmp_path: Path) -> None:
    folder = tmp_path / "sweep"
    sweep_folder(folder)
    md_path, html_path = write_sweep_report(folder)
    assert (md_path, html_path) == (folder / "report.md", folder / "report.html")
    md = md_path.read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert "report-schedules.png" in images and "![final metric against lr](report-param-lr.png)" in md
    assert sorted(images) == sorted(p.name for p in folder.glob("*.png"))
    html = html_path.read_text()
    assert html.count("data:image/png;base64,") == len(images) == len(sweep_figures(folder))
    assert not re.search(r'(href|src)="(?!data:)', html) and "<link" not in html
    assert "## Conclusion" in md and "(2 seeds)" in md  # one number format: lrlab.lab.stats'
    assert "A sweep written by hand for the report tests." in md


def test_a_sweep_with_no_finished_trial_has_a_report_without_figures(tmp_path: Path) -> None:
    folder = tmp_path / "sweep"
    sweep_folder(folder)
    for marker in folder.glob("trials/*/result.json"):
        marker.unlink()
    assert sweep_figures(folder) == {}
    md = write_sweep_report(folder)[0].read_text()
    assert "No trial has finished yet." in md and "incomplete: 0 of 18 trials finished" in md


def test_not_a_sweep_folder(tmp_path: Path) -> None:
    (tmp_path / "sweep.json").write_text(json.dumps({"no": "fingerprint"}))
    assert not is_sweep_folder(tmp_path)
    with pytest.raises(ResultsError, match="is not a sweep folder"):
        write_sweep_report(tmp_path)
