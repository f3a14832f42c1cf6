"""The command line as a user runs it: ``lrlab plot`` and ``lrlab show``."""

from __future__ import annotations

import csv
import io
import math
import subprocess
import sys
from pathlib import Path

import pytest

import lrlab
from lrlab.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_plot_writes_a_png_of_one_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cos.png"
    assert main(["plot", "cosine(0.3, steps=20, final_lr=0.01)", "--steps", "30", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(PNG_MAGIC)
    assert str(out) in capsys.readouterr().out


def test_plot_draws_several_specs_and_a_preset_with_log_axis(tmp_path: Path) -> None:
    out = tmp_path / "many.png"
    code = main(
        [
            "plot",
            "square_root(0.1)",
            "factor(2.0, factor=0.9)",
            "--preset",
            "chapter-schedules",
            "--log-y",
            "--grid",
            "--out",
            str(out),
        ]
    )
    assert code == 0 and out.read_bytes().startswith(PNG_MAGIC)


def test_plot_default_output_name_is_schedules_png(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["plot", "constant(0.1)", "--steps", "5"]) == 0
    assert (tmp_path / "schedules.png").read_bytes().startswith(PNG_MAGIC)


def test_show_csv_prints_exact_values(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "cosine(0.3, steps=20, final_lr=0.01)", "square_root(0.1)", "--steps", "25", "--csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["t", "cosine(0.3, steps=20, final_lr=0.01)", "square_root(0.1)"]
    assert len(rows) == 26
    for t, cos_text, sqrt_text in rows[1:]:
        step = int(t)
        expected = 0.01 + 0.29 * (1 + math.cos(math.pi * min(step, 20) / 20)) / 2
        assert float(cos_text) == pytest.approx(expected, rel=1e-12)
        assert float(sqrt_text) == pytest.approx(0.1 / math.sqrt(step + 1), rel=1e-12)


def test_show_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "multi_factor(0.5, milestones=[2], factor=0.5)", "--steps", "4"]) == 0
    text = capsys.readouterr().out
    assert "multi_factor" in text and "0.25" in text and "0.5" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "cosin(0.3, steps=20)"], "did you mean 'cosine'"),
        (["show", "cosine(0.3, steps=0)"], "steps must be > 0; got steps=0"),
        (["plot", "--steps", "10"], "at least one SPEC or --preset"),
        (["plot", "--preset", "chaptre-schedules"], "unknown preset 'chaptre-schedules'"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_1(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1  # lrlab's refusal; argparse keeps exit 2 for usage errors (below)
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_steps_is_rejected_by_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["show", "constant(0.1)", "--steps", "0"])
    assert info.value.code == 2
    assert "must be > 0; got 0" in capsys.readouterr().err


def test_console_script_runs(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("lrlab")
    result = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == f"lrlab {lrlab.__version__}"


def test_import_lrlab_loads_no_framework() -> None:
    code = (
        "import sys, lrlab, lrlab.schedules.spec, lrlab.cli;"
        "lrlab.parse('cosine(0.1, steps=3)')(1);"
        "bad = [m for m in ('torch', 'keras', 'jax', 'tensorflow', 'mxnet', 'matplotlib', 'ray') if m in sys.modules];"
        "print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
