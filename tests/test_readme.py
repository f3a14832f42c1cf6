"""The README's Python examples for one's own model run as written (on the real Fashion-MNIST)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("torch")

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks(section: str) -> list[str]:
    text = README.read_text()
    start = text.index(f"## {section}")
    end = text.index("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], flags=re.S)


@pytest.mark.slow
def test_your_model_examples_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    from lrlab.lab.data import find_fashion_mnist

    if find_fashion_mnist() is None:
        pytest.fail("the real Fashion-MNIST is needed: `make setup` installs dataset-fashion-mnist")
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    namespace: dict[str, object] = {}
    try:
        blocks = _python_blocks("Your model: which schedule wins?")
        assert len(blocks) == 2
        for block in blocks:
            exec(compile(block, str(README), "exec"), namespace)  # the README's own code
    finally:
        torch.set_num_threads(threads)
    printed = capsys.readouterr().out
    assert "paired over the same 2 seeds" in printed or "tie" in printed.lower()
    assert (tmp_path / "out" / "my-mlp" / "report.html").is_file()
    assert (tmp_path / "out" / "warmup" / "report.html").is_file()
    assert "w=" in str(namespace["sweep"].conclusion)  # type: ignore[attr-defined]
