"""lrlab.reports.page: one page value, rendered to Markdown (PNGs beside it) and to self-contained HTML."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from lrlab.reports.page import Bullets, Image, Page, Paragraph, Section, Table

PNG = b"\x89PNG\r\n\x1a\n" + b"made-up bytes"


def page() -> Page:
    return Page(
        "a <report> & more",
        lead="The lead, with `code`.",
        header=("job `j1` (complete)", "data: 60 *tiny* images"),
        sections=(
            Section("Conclusion", (Paragraph("Best is **a|b** with 0.9000."),)),
            Section("Table", (Table(("setting", "value"), (("a|b", "0.9000 ± 0.0100 (2 seeds)"), ("<i>", "n/a"))),)),
            Section("Notes", (Bullets(("first `x*y`", "second\n  wrapped")),)),
            Section("Figures", (Image("one", "report-one.png", PNG), Image("two & three", "report-two.png", PNG))),
        ),
    )


def test_markdown_keeps_the_markup_and_escapes_table_pipes() -> None:
    md = page().markdown()
    assert md.startswith("# a <report> & more\n\nThe lead, with `code`.\n\n- job `j1` (complete)\n")
    assert "## Conclusion\n\nBest is **a|b** with 0.9000.\n" in md
    assert "| setting | value |\n|---|---|\n| a\\|b | 0.9000 ± 0.0100 (2 seeds) |\n| <i> | n/a |\n" in md
    assert "- first `x*y`\n- second wrapped\n" in md
    assert "![one](report-one.png)\n\n![two & three](report-two.png)\n" in md
    assert "\n\n\n" not in md and md.endswith("\n")


def test_html_escapes_text_and_renders_inline_markup() -> None:
    html = page().html()
    assert "<title>a &lt;report&gt; &amp; more</title>" in html and "<h1>a &lt;report&gt; &amp; more</h1>" in html
    assert "<li>job <code>j1</code> (complete)</li>" in html and "<em>tiny</em>" in html
    assert "<p>Best is <strong>a|b</strong> with 0.9000.</p>" in html
    assert "<td>&lt;i&gt;</td>" in html and "<i>" not in html
    assert "<li>first <code>x*y</code></li>" in html  # nothing inside code changes
    assert 'alt="two &amp; three"' in html


def test_html_embeds_each_image_once_and_fetches_nothing() -> None:
    html = page().html()
    sources = re.findall(r'<img[^>]*src="([^"]+)"', html)
    assert len(sources) == 2 == html.count("data:image/png;base64,")
    assert all(base64.b64decode(s.split(",", 1)[1]) == PNG for s in sources)
    assert not re.search(r'(href|src)="(?!data:)', html)
    assert "<link" not in html and "<script" not in html and "url(" not in html


def test_write_puts_the_pngs_beside_the_markdown(tmp_path: Path) -> None:
    md, html = page().write(tmp_path / "out")
    assert (md, html) == (tmp_path / "out" / "report.md", tmp_path / "out" / "report.html")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "report-one.png",
        "report-two.png",
        "report.html",
        "report.md",
    ]
    assert (tmp_path / "out" / "report-one.png").read_bytes() == PNG


def test_bad_blocks_are_refused() -> None:
    with pytest.raises(ValueError, match="needs 2 cells"):
        Table(("a", "b"), (("only one",),))
    with pytest.raises(ValueError, match=r"plain name ending in \.png"):
        Image("x", "../x.png", PNG)
    twice = Page("p", sections=(Section("s", (Image("a", "f.png", PNG), Image("b", "f.png", PNG))),))
    with pytest.raises(ValueError, match="share a file name"):
        twice.write(Path("/nonexistent-never-written"))
