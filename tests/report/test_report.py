"""`llmspec report` on every example spec, through the real CLI: Markdown structure, HTML structure, charts,
lint and estimate content cross-checked against the library, the no-matplotlib fallback and the error paths."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html import unescape
from pathlib import Path

import pytest
from report_helpers import EXAMPLES, ROOT, gfm, markdown_headings, markdown_lines, markdown_tables, parse_html, run_cli

SECTIONS = ["## Summary", "## Architecture", "## Parameters", "## Memory per GPU", "## Compute, time and cost",
            "## Lint findings"]
IDS = lambda p: p.name  # noqa: E731


def _spec(path: Path):
    from llmspec.spec.loader import load_spec

    return load_spec(path)


def _table(tables, first_header: str):
    found = [t for t in tables if t[0] and t[0][0] == first_header]
    assert found, f"no table whose first header is {first_header!r}: {[t[0] for t in tables]}"
    return found[0]


@pytest.mark.needs("matplotlib")
@pytest.mark.parametrize("spec_path", EXAMPLES, ids=IDS)
def test_markdown_report_of_every_example(spec_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "review.md"
    result = run_cli("report", str(spec_path), "-o", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    spec = _spec(spec_path)

    headings = markdown_headings(text)
    assert headings[0] == f"# {spec.model.name}"
    assert [h for h in headings if h in SECTIONS] == SECTIONS  # all there, in this order
    tables = markdown_tables(text)  # asserts GFM structure of every table

    summary = dict(_table(tables, "Aspect")[1:])
    assert summary["Model"].startswith(spec.model.name)

    # the parameter table's total is the exact count of the estimator, and the parts add up to it
    from llmspec.estimate import count_params

    counted = count_params(spec.arch, spec.training)
    params = _table(tables, "Part")
    assert params[-1][1] == f"**{counted.total:,}**"
    assert sum(int(row[1].replace(",", "")) for row in params[1:-1]) == counted.total

    # the lint section lists exactly the findings `llmspec lint` reports, by code
    from llmspec.lint import lint_paths

    codes = sorted(f.code for f in lint_paths([spec_path]).findings)
    lint_text = text.split("## Lint findings", 1)[1].split("\n## ", 1)[0]
    if codes:
        shown = sorted(row[0].strip("`") for row in _table(markdown_tables(lint_text), "Code")[1:])
        assert shown == codes
    else:
        assert "No findings." in lint_text

    # a spec with hardware gets the memory chart, written beside the Markdown and linked relatively
    if spec.hardware is not None:
        links = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", text)
        assert links == ["review.memory.svg"], links
        svg = ET.parse(tmp_path / links[0]).getroot()
        assert svg.tag == "{http://www.w3.org/2000/svg}svg"
        assert "## What would fit" in text or "does not fit" not in text


@pytest.mark.needs("matplotlib")
@pytest.mark.parametrize("spec_path", EXAMPLES, ids=IDS)
def test_html_report_of_every_example(spec_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "review.html"
    result = run_cli("report", str(spec_path), "-o", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    page = parse_html(text)
    assert {"summary", "architecture", "parameters", "memory", "compute", "lint"} <= set(page.sections)
    assert len(page.tables) >= 3
    for table in page.tables:
        assert len({len(row) for row in table}) == 1, table  # every row as wide as the header
    assert page.external == [] and page.scripts == 0  # self-contained: nothing fetched, nothing run
    spec = _spec(spec_path)
    if spec.hardware is not None:
        assert page.svgs == 1
    assert list(tmp_path.iterdir()) == [out]  # HTML inlines its chart: no files beside it


@pytest.mark.needs("matplotlib")
def test_markdown_goes_to_stdout_without_output_option() -> None:
    spec = ROOT / "examples" / "llama2-7b-lora-a100.toml"
    result = run_cli("report", str(spec))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("# aqua-support-7b\n")
    markdown_tables(result.output)
    assert "![" not in result.output  # no file to link to on stdout
    assert "-o report.md" in result.output  # ... and it says how to get the chart


def test_format_option_overrides_suffix(tmp_path: Path) -> None:
    out = tmp_path / "review.txt"
    result = run_cli("report", str(ROOT / "examples" / "tiny-base.toml"), "--format", "html", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_set_override_changes_the_report(tmp_path: Path) -> None:
    spec = ROOT / "examples" / "llama2-7b-lora-a100.toml"
    base = run_cli("report", str(spec)).output
    changed = run_cli("report", str(spec), "--set", "training.lora.rank=64").output
    assert "--set training.lora.rank=64" in changed
    trainable = lambda text: dict(_table(markdown_tables(text), "Aspect")[1:])["Parameters"]  # noqa: E731
    assert trainable(base) != trainable(changed)


def test_report_is_reproducible(tmp_path: Path) -> None:
    spec = ROOT / "examples" / "llama3-70b-full-fsdp-8xh100.toml"
    one, two = tmp_path / "a.html", tmp_path / "b.html"
    assert run_cli("report", str(spec), "-o", str(one)).exit_code == 0
    assert run_cli("report", str(spec), "-o", str(two)).exit_code == 0
    assert one.read_bytes() == two.read_bytes()


def _without_matplotlib(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh interpreter in which `import matplotlib` fails, as without the report extra."""
    code = ("import sys; sys.modules['matplotlib'] = None; sys.argv = ['llmspec', *sys.argv[1:]]; "
            "from llmspec.cli import main; main()")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_without_matplotlib_tables_render_and_say_how_to_get_charts(tmp_path: Path) -> None:
    spec = ROOT / "examples" / "llama2-7b-lora-a100.toml"
    md = _without_matplotlib("report", str(spec), "-o", "review.md", cwd=tmp_path)
    assert md.returncode == 0, md.stderr
    text = (tmp_path / "review.md").read_text()
    assert any("pip install 'llmspec-cli[report]'" in line for line in markdown_lines(text))
    assert "![" not in text and not (tmp_path / "review.memory.svg").exists()
    assert len(markdown_tables(text)) >= 4
    html = _without_matplotlib("report", str(spec), "-o", "review.html", cwd=tmp_path)
    assert html.returncode == 0, html.stderr
    page = parse_html((tmp_path / "review.html").read_text())
    assert page.svgs == 0 and len(page.tables) >= 4
    assert "pip install 'llmspec-cli[report]'" in unescape((tmp_path / "review.html").read_text())


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "llmspec", *args], capture_output=True, text=True, cwd=cwd)


def test_invalid_spec_is_one_line_per_problem_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[model]\nname = "x"\n[model.architecture]\nn_layers = "many"\n')
    result = _cli("report", str(bad))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines and all(re.match(rf"{re.escape(str(bad))}:\d+:\d+: ", line) for line in lines), result.stderr
    assert "Traceback" not in result.stderr


def test_missing_results_file_is_a_usage_error(tmp_path: Path) -> None:
    result = _cli("report", "examples/tiny-base.toml", "--results", str(tmp_path / "nope.json"))
    assert result.returncode == 2
    assert "no such results file" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_malformed_results_file_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "results.json"
    bad.write_text('{"tasks": {"t": {"metrics": {"acc": {"value": "high"}}}}}')
    result = _cli("report", "examples/tiny-base.toml", "--results", str(bad))
    assert result.returncode == 2
    assert "not an llmspec results file" in result.stderr and "Traceback" not in result.stderr


def test_missing_spec_is_exit_2(tmp_path: Path) -> None:
    result = _cli("report", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{tmp_path / 'nope.toml'}:1:1: ") and "Traceback" not in result.stderr


@pytest.mark.needs("matplotlib")
def test_report_never_imports_torch_and_draws_with_matplotlib_only_when_needed(tmp_path: Path) -> None:
    code = f"""
import sys
from llmspec.report import build_report, render
from llmspec.report.markdown import render_markdown
doc = build_report({str(ROOT / "examples" / "llama2-7b-lora-a100.toml")!r})
render_markdown(doc)
heavy = sorted(m for m in ("torch", "transformers", "lm_eval", "datasets") if m in sys.modules)
print(heavy, "matplotlib" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] True"  # the chart was drawn (lazily), nothing heavy came with it


def test_text_from_the_spec_cannot_inject_markup(tmp_path: Path) -> None:
    spec = tmp_path / "evil.toml"
    spec.write_text((ROOT / "examples" / "tiny-base.toml").read_text().replace(
        'name = "tiny-base"', 'name = "tiny <img src=x onerror=alert(1)> | pipe"').replace(
        'description = "Base model', 'description = "<script>alert(1)</script> Base model'))
    html = tmp_path / "review.html"
    assert run_cli("report", str(spec), "-o", str(html)).exit_code == 0
    page = parse_html(html.read_text())
    assert page.scripts == 0 and "<img" not in html.read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html.read_text()
    md = run_cli("report", str(spec)).output
    rendered = gfm().render(md)  # as GitHub renders it: the tags are text, the pipe does not split the cell
    assert "<script>" not in rendered and "<img" not in rendered
    summary = dict(_table(markdown_tables(md), "Aspect")[1:])
    assert summary["Model"] == "tiny <img src=x onerror=alert(1)> | pipe (gpt2)"
