"""lrlab.reports.job: the report is built from stored result files alone, and says what a reader needs.

The job folders are written here by hand, record by record, from a few
made-up numbers, in the format `lrlab.lab.train` writes (``job.json`` with the
experiment record, ``metrics.jsonl``); one test trains a real one-epoch job
on synthetic IDX data, and one reads a folder of the format before
experiments (no ``job.json``).
"""

from __future__ import annotations

import base64
import json
import math
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from lrlab.lab.store import ResultsError, read_results
from lrlab.lab.summary import job_comparison
from lrlab.reports.job import job_figures, write_report
from report_folders import CHAPTER, CONST, COS, FINALS, HUGE, job_folder

#: Student's t 0.975 quantile with 2 degrees of freedom (three seeds), from tables
T_975_DF2 = 4.302652729911275


def md_rows(md: str) -> dict[str, list[str]]:
    """The Markdown table's rows by their first cell (the table's cells, stripped)."""
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in md.splitlines() if line.startswith("| ")]
    return {cells[0]: cells for cells in rows}


def section(md: str, title: str) -> str:
    """The text of the Markdown section `title`, up to the next one."""
    return md.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


# -- the table and the book's numbers ---------------------------------------------------------------
def test_markdown_table_has_mean_std_and_the_books_numbers(tmp_path: Path) -> None:
    md_path, _ = write_report(job_folder(tmp_path / "job", epochs=30))
    md = md_path.read_text()
    rows = md_rows(md)
    head = rows["schedule"]
    assert head[2:7] == ["train loss", "train accuracy", "test loss", "test accuracy", "test accuracy: 95% interval"]
    cells = rows[f"cosine: `{COS}`"]
    for column, k in ((2, 0), (3, 1), (4, 2), (5, 3)):
        values = [f[k] for f in FINALS[COS]]
        assert cells[column] == f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f} (3 seeds)"
    accs = [f[3] for f in FINALS[COS]]
    half = T_975_DF2 * statistics.stdev(accs) / math.sqrt(3)
    assert cells[6] == f"[{statistics.mean(accs) - half:.4f}, {statistics.mean(accs) + half:.4f}]"
    assert cells[1] == "3"
    # the book's printed PyTorch numbers for cosine (d2l 1.0.3) and the band of its re-runs
    cos = " | ".join(cells)
    assert "0.159 / 0.942 / 0.904" in cos and "0.899 [0.886, 0.908]" in cos
    assert "0.145 / 0.944 / 0.877" in " | ".join(rows[f"constant: `{CONST}`"])
    huge = " | ".join(rows[f"huge: `{HUGE}`"])
    assert "seed 0 in epoch 2" in huge and "0.877" not in huge  # no book numbers for a schedule it never ran
    assert "**Diverged**" in md and "huge, seed 0: epoch 2" in md
    assert "one-epoch lag" in md and "0.125" in md  # what lrlab runs differently from the book's code


def test_the_conclusion_comes_first_and_is_the_comparisons_sentence(tmp_path: Path) -> None:
    folder = job_folder(tmp_path / "job")
    md = write_report(folder)[0].read_text()
    sentence = job_comparison(read_results(folder)).sentence
    assert sentence.startswith("Best is cosine")
    assert section(md, "Conclusion").strip() == sentence
    assert md.index("## Conclusion") < md.index("## Final epoch") < md.index("## Learning rates")


def test_the_header_says_what_ran(tmp_path: Path) -> None:
    md = write_report(job_folder(tmp_path / "job"))[0].read_text()
    header = md.split("\n## ", 1)[0]
    assert "fashion-mnist-lenet" in header and CHAPTER["description"] in header
    assert "SGD (no momentum, no weight decay)" in header and "batch size 256" in header
    assert "3 epochs" in header and "per epoch" in header
    assert "2000 train + 500 test images" in header
    assert "lrlab 0.1.0" in header and "torch 2.13.0+cpu" in header and "2 threads per run" in header


def test_the_data_sentence_uses_the_real_test_set(tmp_path: Path) -> None:
    md = write_report(job_folder(tmp_path / "job"))[0].read_text()
    assert "measured on the 500 test images" in md
    assert "10,000" not in md and "10000" not in md


def test_a_full_size_test_set_is_named_with_its_size(tmp_path: Path) -> None:
    md = write_report(job_folder(tmp_path / "job", experiment={**CHAPTER, "test_examples": 10000}))[0].read_text()
    assert "measured on the 10,000 test images" in md


def test_markdown_images_are_files_beside_it(tmp_path: Path) -> None:
    md_path, _ = write_report(job_folder(tmp_path / "job"))
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md_path.read_text())
    assert len(images) == 5  # the rates, all schedules side by side, and one figure per schedule
    assert images[:2] == ["report-lr.png", "report-compare.png"]
    for name in images:
        assert (md_path.parent / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert sorted(p.name for p in md_path.parent.glob("*.png")) == sorted(images)  # every PNG is linked


def test_html_is_self_contained(tmp_path: Path) -> None:
    folder = job_folder(tmp_path / "job")
    _, html_path = write_report(folder)
    html = html_path.read_text()
    sources = re.findall(r'src="([^"]+)"', html)
    assert len(sources) == 5 == len(job_figures(read_results(folder)))
    assert html.count("data:image/png;base64,") == 5  # one per figure
    assert "<h2>Side by side</h2>" in html
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG")
    assert not re.search(r'(href|src)="(?!data:)', html)  # nothing to fetch
    assert "<link" not in html and "<script" not in html and "url(" not in html
    assert "± " in html and "Diverged" in html


def test_html_escapes_labels(tmp_path: Path) -> None:
    folder = job_folder(tmp_path / "job")
    text = (folder / "metrics.jsonl").read_text().replace('"label": "huge"', '"label": "<b>huge</b> & co"')
    (folder / "metrics.jsonl").write_text(text)
    html = write_report(folder)[1].read_text()
    assert "<b>huge</b>" not in html and "&lt;b&gt;huge&lt;/b&gt; &amp; co" in html


def test_epochs_other_than_the_books_are_flagged(tmp_path: Path) -> None:
    md = write_report(job_folder(tmp_path / "job", epochs=3))[0].read_text()
    assert "(after 30 epochs; this run: 3)" in md


def test_an_unfinished_job_says_so(tmp_path: Path) -> None:
    md = write_report(job_folder(tmp_path / "job", complete=False))[0].read_text()
    assert "incomplete" in md and "--resume" in md


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    folder = job_folder(tmp_path / "job", complete=False)
    with (folder / "metrics.jsonl").open("a") as f:
        f.write('{"type": "epoch", "run_id": "job-0", "ep')
    with pytest.warns(Warning, match=r"metrics\.jsonl:\d+: the last line is cut short .*; ignored"):
        assert write_report(folder)[0].is_file()


def test_a_folder_without_results_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match=r"has no metrics\.jsonl"):
        write_report(tmp_path)
    with pytest.raises(ResultsError, match="does not exist"):
        write_report(tmp_path / "missing")


def test_the_report_needs_no_torch(tmp_path: Path) -> None:
    folder = job_folder(tmp_path / "job")
    code = (
        "import sys; from lrlab.reports.job import write_report; "
        f"write_report({str(folder)!r}); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- other experiments --------------------------------------------------------------------------------
def test_an_experiment_without_accuracy_is_reported_by_its_own_metrics(tmp_path: Path) -> None:
    mine = {
        "name": "my-regression",
        "description": "a linear model on made-up data",
        "metrics": ["train_loss", "test_loss"],
        "goal": "min:test_loss",
        "reference": None,
        "train_examples": 64,
        "test_examples": 32,
    }
    folder = job_folder(tmp_path / "job", experiment=mine)
    md_path, html_path = write_report(folder)
    md = md_path.read_text()
    rows = md_rows(md)
    assert rows["schedule"] == ["schedule", "seeds", "train loss", "test loss", "test loss: 95% interval", "diverged"]
    losses = [f[2] for f in FINALS[COS]]
    assert rows[f"cosine: `{COS}`"][3] == f"{statistics.mean(losses):.4f} ± {statistics.stdev(losses):.4f} (3 seeds)"
    assert "accuracy" not in md and "book" not in md  # no chapter: no book columns, no differences
    assert "What lrlab runs differently" not in md
    conclusion = section(md, "Conclusion").strip()
    assert "test_loss" in conclusion and conclusion.startswith("Best is cosine")  # lower is better
    assert "my-regression" in md and "a linear model on made-up data" in md
    assert set(job_figures(read_results(folder))) == {"lr", "compare", "run: cosine", "run: constant", "run: huge"}
    assert html_path.read_text().count("data:image/png;base64,") == 5


def test_a_single_run_is_a_compare_of_one(tmp_path: Path) -> None:
    folder = job_folder(tmp_path / "job")
    keep = [
        r
        for r in map(json.loads, (folder / "metrics.jsonl").read_text().splitlines())
        if r.get("run_id", "job-0") == "job-0"
    ]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in keep))
    md = write_report(folder)[0].read_text()
    assert section(md, "Conclusion").strip().startswith("Only one setting has a finite final test_acc: cosine")
    rows = md_rows(md)
    assert rows[f"cosine: `{COS}`"][1] == "1" and rows[f"cosine: `{COS}`"][5] == "0.9000"
    assert re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md) == ["report-lr.png", "report-compare.png", "report-run-cosine.png"]


def test_a_folder_from_before_experiments_still_gets_the_chapters_report(tmp_path: Path) -> None:
    md = write_report(job_folder(tmp_path / "job", epochs=30, legacy=True))[0].read_text()
    rows = md_rows(md)
    assert rows["schedule"][2:5] == ["train loss", "train accuracy", "test accuracy"]
    assert "0.159 / 0.942 / 0.904" in " | ".join(rows[f"cosine: `{COS}`"])
    assert "measured on the test set" in md and "10,000" not in md  # the folder does not say how many


def test_a_real_one_epoch_job_on_synthetic_data(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from fixtures_data import write_dataset
    from lrlab.lab.train import Run, TrainConfig, train

    data = write_dataset(tmp_path / "data", n_train=128, n_test=40)
    runs = [Run(COS, 0, "cosine"), Run(CONST, 0, "constant")]  # the chapter's: the book's columns too
    train(runs, TrainConfig(epochs=1, batch_size=64), data=data, out=tmp_path / "job")
    md_path, html_path = write_report(tmp_path / "job")
    md = md_path.read_text()
    results = read_results(tmp_path / "job")
    assert job_comparison(results).sentence in md
    assert results.job["experiment"]["name"] in md
    assert "measured on the 40 test images" in md and "10,000" not in md
    assert "(after 30 epochs; this run: 1)" in md
    assert html_path.read_text().count("data:image/png;base64,") == len(job_figures(results)) == 4
