"""The sweep section of `llmspec report` (real CLI, real matplotlib; and with matplotlib blocked)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner
from sweep_helpers import EXAMPLE, ROOT

from llmspec.cli import cli


@pytest.mark.needs("matplotlib")
def test_report_has_sweep_section_and_chart(tmp_path) -> None:
    out = tmp_path / "review.md"
    result = CliRunner().invoke(cli, ["report", str(EXAMPLE), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    section = text.split("## Hyperparameter sweep", 1)[1]
    assert "192 points, the full grid, over 5 parameters: 12 feasible; 84 do not fit; 96 over the run budget." in section
    assert "| `training.micro_batch_size` | 4 .. 16 (4 values) | 4 |" in section
    assert "Objective: maximize kb_qa/f1 on suite smoke" in section
    svg = (tmp_path / "review.sweep-memory.svg").read_text(encoding="utf-8")
    assert "<svg" in svg
    assert "(review.sweep-memory.svg)" in section
    assert "training.micro_batch_size (x) and training.seq_len" in section  # the two axes that move memory most


def test_report_without_matplotlib_says_how_to_get_the_chart(tmp_path) -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'matplotlib' or name.startswith('matplotlib.'):\n"
        "            raise ImportError('blocked for the test')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from llmspec.cli import cli\n"
        f"cli.main(['report', {str(EXAMPLE)!r}], standalone_mode=False)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    section = result.stdout.split("## Hyperparameter sweep", 1)[1]
    assert "(No chart: install the report extra for charts" in section


def test_values_from_the_spec_are_escaped(tmp_path, example_text) -> None:
    text = example_text.replace('[sweep.parameters."training.activation_checkpointing"]\nvalues = [false, true]',
                                '[sweep.parameters."model.name"]\nvalues = ["<script>alert(1)</script>", "a|b"]')
    text = text.replace('metric = "kb_qa/f1"', 'metric = "kb_<i>qa/f1"')
    spec = tmp_path / "hostile.toml"
    spec.write_text(text, encoding="utf-8")
    for name in ("r.md", "r.html"):
        result = CliRunner().invoke(cli, ["report", str(spec), "-o", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        out = (tmp_path / name).read_text(encoding="utf-8")
        if name.endswith(".md"):  # judge the Markdown as GitHub renders it (CommonMark + tables)
            from markdown_it import MarkdownIt

            out = MarkdownIt("commonmark").enable("table").render(out)
        section = out.split("Hyperparameter sweep", 2)[-1]
        assert "<script>" not in section and "<i>" not in section
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section
