"""One page, two renderings: the value every report builds, and its Markdown and self-contained HTML.

A `Page` is a title, an optional lead paragraph, header lines (a bullet
list of what was run) and `Section` s, each a list of blocks: `Paragraph`,
`Table`, `Bullets` and `Image` (a figure already rendered to PNG). The job
report (`lrlab.reports.job`) and the sweep report (`lrlab.reports.sweep`)
build a page and call `Page.write`, which writes ``report.md`` with the PNG
files beside it and ``report.html`` with the same PNGs embedded as
``data:image/png;base64`` URIs: one file that opens anywhere, fetching nothing.

Text in a page may use three pieces of Markdown inline markup -- ```code```,
``**bold**`` and ``*emphasis*`` -- which the Markdown rendering keeps and the
HTML rendering turns into tags after escaping everything else.

Why Jinja2 for the two renderings, rather than strings joined in Python (what
both reports did, each with its own copy of the CSS, the table and the
embedding) or a Markdown-to-HTML converter:

* the markup of each format lives in one template file (``templates/``),
  readable as the document it produces, and both reports share it;
* the HTML environment escapes every value by default (``autoescape``): a
  label such as ``<b>`` or ``a & b`` cannot break the page, and no call site has
  to remember ``html.escape``; only the inline filter marks its output safe,
  after escaping its input;
* ``StrictUndefined`` turns a misspelt field into an error, not a blank cell;
* a Markdown converter would add a dependency with its own table dialect,
  and would still leave escaping and image embedding to us.

Jinja2 is small, pure Python, and already what Sphinx, MkDocs and pandas'
``Styler`` render with.

>>> page = Page("demo", header=("job `a1`",), sections=(Section("Numbers", (Table(("a", "b"), (("1", "x|y"),)),)),))
>>> print(page.markdown())
# demo
<BLANKLINE>
- job `a1`
<BLANKLINE>
## Numbers
<BLANKLINE>
| a | b |
|---|---|
| 1 | x\\|y |
<BLANKLINE>
>>> "<li>job <code>a1</code></li>" in page.html()
True
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import ClassVar

import jinja2
from markupsafe import Markup, escape

from lrlab.lab.store import atomic_write_bytes, atomic_write_text

__all__ = ["Block", "Bullets", "Image", "Page", "Paragraph", "Section", "Table"]


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of text (inline markup allowed)."""

    text: str
    kind: ClassVar[str] = "paragraph"


@dataclass(frozen=True)
class Bullets:
    """A bullet list, one line of text (inline markup allowed) per item."""

    items: tuple[str, ...]
    kind: ClassVar[str] = "bullets"


@dataclass(frozen=True)
class Table:
    """A table: a header row and rows of text cells (inline markup allowed), first column left-aligned."""

    head: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    kind: ClassVar[str] = "table"

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.head):
                raise ValueError(f"each row of a table needs {len(self.head)} cells; got {row!r}")


@dataclass(frozen=True)
class Image:
    """A figure rendered to PNG: its title (alt text), the file name it gets beside the Markdown, the bytes."""

    title: str
    file: str
    png: bytes = field(repr=False)
    kind: ClassVar[str] = "image"

    def __post_init__(self) -> None:
        if Path(self.file).name != self.file or not self.file.endswith(".png"):
            raise ValueError(f"an image's file must be a plain name ending in .png; got file={self.file!r}")

    @property
    def data_uri(self) -> str:
        """The PNG as a ``data:image/png;base64,...`` URI (what the HTML embeds)."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


Block = Paragraph | Bullets | Table | Image


@dataclass(frozen=True)
class Section:
    """A titled part of a page: its blocks in order."""

    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Page:
    """A report page: title, lead paragraph, header lines and sections (see the module docstring)."""

    title: str
    lead: str = ""
    header: tuple[str, ...] = ()
    sections: tuple[Section, ...] = ()

    def images(self) -> Iterator[Image]:
        """Every image of the page, in order."""
        for section in self.sections:
            yield from (b for b in section.blocks if isinstance(b, Image))

    def markdown(self) -> str:
        """The page as Markdown; images are links to their files (`write` puts them beside it)."""
        text = _environment(html=False).get_template("page.md.j2").render(page=self)
        return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"

    def html(self) -> str:
        """The page as one self-contained HTML file: inline CSS, images embedded, nothing fetched."""
        return _environment(html=True).get_template("page.html.j2").render(page=self)

    def write(self, folder: str | Path, name: str = "report") -> tuple[Path, Path]:
        """Write ``<name>.md`` with the PNGs beside it and the self-contained ``<name>.html`` into `folder`."""
        folder = Path(folder)
        files = [image.file for image in self.images()]
        if len(set(files)) != len(files):
            raise ValueError(f"two images of a page share a file name: {files}")
        for image in self.images():
            atomic_write_bytes(folder / image.file, image.png)
        md, page = folder / f"{name}.md", folder / f"{name}.html"
        atomic_write_text(md, self.markdown())
        atomic_write_text(page, self.html())
        return md, page


# -- rendering --------------------------------------------------------------------------------------------
_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")


def inline_html(text: str) -> Markup:
    """`text` escaped, with ```code```, ``**bold**`` and ``*emphasis*`` as tags (nothing inside code changes).

    >>> str(inline_html("a <b> `x*y*z` and **bold** *it*"))
    'a &lt;b&gt; <code>x*y*z</code> and <strong>bold</strong> <em>it</em>'
    """
    out = []
    for i, part in enumerate(_CODE.split(text)):
        if i % 2:
            out.append(f"<code>{escape(part)}</code>")
        else:
            escaped = str(escape(part))
            escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
            out.append(_EMPHASIS.sub(r"<em>\1</em>", escaped))
    return Markup("".join(out))


def markdown_cell(text: str) -> str:
    """A table cell for Markdown: ``|`` escaped, no line breaks."""
    return " ".join(text.split()).replace("|", "\\|")


def one_line(text: str) -> str:
    """Whitespace, line breaks included, folded to single spaces (a Markdown bullet is one line)."""
    return " ".join(text.split())


@cache
def _environment(*, html: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lrlab.reports", "templates"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["inline"] = inline_html if html else (lambda text: text)
    env.filters["cell"] = inline_html if html else markdown_cell
    env.filters["one_line"] = one_line
    return env
