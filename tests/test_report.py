"""lrlab.reports.job: the report is built from stored result files alone."""

from __future__ import annotations

import base64
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lrlab.lab.store import ResultsError
from lrlab.reports.job import write_report

COS = "cosine(0.3, steps=20, final_lr=0.01)"
CONST = "constant(0.3)"
HUGE = "constant(9.0)"
# final (train loss, train acc, test acc) per seed, invented for the test
FINALS = {
    COS: [(0.20, 0.93, 0.90), (0.22, 0.92, 0.89), (0.18, 0.94, 0.91)],
    CONST: [(0.15, 0.95, 0.88), (0.17, 0.94, 0.86), (0.16, 0.945, 0.87)],
}


def _job(folder: Path, *, epochs: int = 3, complete: bool = True) -> Path:
    """Write metrics.jsonl the way a 3-seed compare job does, with one run that diverged."""
    folder.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    runs = [(label, spec, seed) for label, spec in (("cosine", COS), ("constant", CONST)) for seed in range(3)]
    runs.append(("huge", HUGE, 0))
    for i, (label, spec, seed) in enumerate(runs):
        records.append(
            {
                "type": "run",
                "run_id": f"job-{i}",
                "job_id": "job",
                "label": label,
                "schedule": spec,
                "seed": seed,
                "per": "epoch",
                "epochs": epochs,
                "batch_size": 256,
                "model": {"variant": "lenet", "init": "torch"},
                "data": "synthetic",
                "lrlab": "0.1.0",
                "torch": "2.13.0+cpu",
                "device": "cpu",
            }
        )
    for epoch in range(1, epochs + 1):
        for i, (_, spec, seed) in enumerate(runs):
            if spec == HUGE:
                if epoch == 2:
                    records.append(_epoch(i, epoch, (float("nan"), 0.1, None), 9.0, diverged=True))
                    records.append({"type": "diverged", "run_id": f"job-{i}", "epoch": 2, "loss": "nan"})
                elif epoch == 1:
                    records.append(_epoch(i, epoch, (2.3, 0.1, 0.1), 9.0))
                continue
            final = FINALS[spec][seed]
            values = final if epoch == epochs else (final[0] + 0.5, final[1] - 0.2, final[2] - 0.2)
            records.append(_epoch(i, epoch, values, 0.3 / epoch))
    if complete:
        records.append({"type": "end", "job_id": "job", "epochs": epochs, "seconds": 1.0})
    text = "".join(json.dumps(r) + "\n" for r in records)
    (folder / "metrics.jsonl").write_text(text.replace("NaN", "null"))
    return folder


def _epoch(i: int, epoch: int, values: tuple[Any, Any, Any], lr: float, diverged: bool = False) -> dict[str, Any]:
    loss, train_acc, test_acc = values
    return {
        "type": "epoch",
        "run_id": f"job-{i}",
        "epoch": epoch,
        "train_loss": loss,
        "train_acc": train_acc,
        "test_acc": test_acc,
        "lr_first": lr,
        "lr_last": lr,
        "seconds": 0.1,
        "diverged": diverged,
    }


def test_markdown_table_has_mean_std_and_the_books_numbers(tmp_path: Path) -> None:
    md_path, _ = write_report(_job(tmp_path / "job", epochs=30))
    md = md_path.read_text()
    rows = {line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("| ")}
    cos = rows[f"cosine: `{COS}`"]
    cells = [c.strip() for c in cos.split("|")[1:-1]]
    for column, k in ((2, 0), (3, 1), (4, 2)):
        values = [f[k] for f in FINALS[COS]]
        assert cells[column] == f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"
    assert cells[1] == "3"
    # the book's printed PyTorch numbers for cosine (d2l 1.0.3) and the band of its re-runs
    assert "0.159 / 0.942 / 0.904" in cos and "0.899 [0.886, 0.908]" in cos
    assert "0.145 / 0.944 / 0.877" in rows[f"constant: `{CONST}`"]
    huge = rows[f"huge: `{HUGE}`"]
    assert "seed 0 in epoch 2" in huge and "0.877" not in huge  # no book numbers for a schedule it never ran
    assert "**Diverged**" in md and "huge, seed 0: epoch 2" in md
    assert "one-epoch lag" in md and "0.125" in md  # what lrlab runs differently from the book's code


def test_markdown_images_are_files_beside_it(tmp_path: Path) -> None:
    md_path, _ = write_report(_job(tmp_path / "job"))
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md_path.read_text())
    assert len(images) == 5  # the rates, all schedules side by side, and one figure per schedule
    assert images[:2] == ["report-lr.png", "report-compare.png"]
    for name in images:
        assert (md_path.parent / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_html_is_self_contained(tmp_path: Path) -> None:
    _, html_path = write_report(_job(tmp_path / "job"))
    html = html_path.read_text()
    sources = re.findall(r'src="([^"]+)"', html)
    assert len(sources) == 5
    assert "<h2>Side by side</h2>" in html
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG")
    assert not re.search(r'(href|src)="(?!data:)', html)  # nothing to fetch
    assert "± " in html and "Diverged" in html


def test_epochs_other_than_the_books_are_flagged(tmp_path: Path) -> None:
    md = write_report(_job(tmp_path / "job", epochs=3))[0].read_text()
    assert "(after 30 epochs; this run: 3)" in md


def test_an_unfinished_job_says_so(tmp_path: Path) -> None:
    md = write_report(_job(tmp_path / "job", complete=False))[0].read_text()
    assert "incomplete" in md and "--resume" in md


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    folder = _job(tmp_path / "job", complete=False)
    with (folder / "metrics.jsonl").open("a") as f:
        f.write('{"type": "epoch", "run_id": "job-0", "ep')
    assert write_report(folder)[0].is_file()


def test_a_folder_without_results_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match=r"has no metrics\.jsonl"):
        write_report(tmp_path)
    with pytest.raises(ResultsError, match="does not exist"):
        write_report(tmp_path / "missing")


def test_the_report_needs_no_torch(tmp_path: Path) -> None:
    folder = _job(tmp_path / "job")
    code = (
        "import sys; from lrlab.reports.job import write_report; "
        f"write_report({str(folder)!r}); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
