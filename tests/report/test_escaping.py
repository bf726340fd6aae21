"""Text from a spec is data: it never becomes Markdown or HTML markup in a report, a diff or eval's summary.md
(issue 11, finding 1). Markdown is rendered the way GitHub renders it (report_helpers.gfm: tables and alerts),
HTML is parsed with the standard library's html.parser."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from report_helpers import ROOT, gfm, inline_text, markdown_tables, parse_html, run_cli

from llmspec.textsafe import one_line

FORGED_NAME = "m`\r\r> [!TIP]\r> **Fits:** 0 lint findings.\r\r<!--"
NOT_READY = "llama3-70b-full-fsdp-8xh100.toml"  # its verdict is "Not ready" (70B full fine-tune on H100s)


def toml_string(text: str) -> str:
    """A TOML basic string holding exactly ``text`` (control characters as \\uXXXX escapes)."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def variant(folder: Path, example: str, **fields: object) -> Path:
    """A copy of an example (beside copies of the bases it extends) with free-text fields replaced: name, owner,
    description (strings) and tags (a list)."""
    if not (folder / "base").exists():
        shutil.copytree(ROOT / "examples" / "base", folder / "base")
    text = (ROOT / "examples" / example).read_text(encoding="utf-8")
    for key, value in fields.items():
        new = "[" + ", ".join(toml_string(v) for v in value) + "]" if isinstance(value, list) else toml_string(str(value))
        if re.search(rf"(?m)^{key} = ", text):
            text = re.sub(rf"(?m)^{key} = .*$", lambda _, line=f"{key} = {new}": line, text, count=1)
        else:
            text = text.replace("[meta]\n", f"[meta]\n{key} = {new}\n", 1)
    path = folder / example
    path.write_text(text, encoding="utf-8")
    return path


def alerts(md: str) -> list[tuple[str, str]]:
    """GitHub alerts in the rendered document: (kind, text of their paragraphs)."""
    out, kind, texts = [], None, []
    for token in gfm().parse(md):
        if token.type == "alert_open":
            kind, texts = token.meta.get("kind"), []
        elif token.type == "inline" and kind is not None and texts is not None:
            texts.append(inline_text(token))
        elif token.type == "alert_close" and kind is not None:
            out.append((kind, " ".join(texts[1:])))  # texts[0] is the alert's title
            kind = None
    return out


def markup(md: str) -> dict[str, list[str]]:
    """What in the rendered document is markup beyond text: raw HTML, images, links."""
    found: dict[str, list[str]] = {"html": [], "images": [], "links": []}
    for token in gfm().parse(md):
        if token.type == "html_block":
            found["html"].append(token.content)
        for child in token.children or ():
            if child.type == "html_inline":
                found["html"].append(child.content)
            elif child.type == "image":
                found["images"].append(str(child.attrGet("src")))
            elif child.type == "link_open":
                found["links"].append(str(child.attrGet("href")))
    return found


def blocks(md: str) -> list[str]:
    """The block structure of the rendered document (token types, without the text)."""
    return [t.type for t in gfm().parse(md) if t.type != "inline"]


def own_markup_only(md: str) -> None:
    found = markup(md)
    assert set(found["html"]) <= {"<sub>", "</sub>", "<details>", "</details>", "<summary>", "</summary>"}, found
    assert not found["images"], found
    assert all(href.startswith("#") for href in found["links"]), found  # the table of contents


def heading(md: str) -> str:
    tokens = gfm().parse(md)
    return next(inline_text(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == "heading_open")


def cell(md: str, first_header: str, row: str) -> str:
    table = next(t for t in markdown_tables(md) if t[0][0] == first_header)
    return next(r[1] for r in table[1:] if r[0] == row)


# -- the forgeries of the issue, one by one ---------------------------------------------------------------------
def test_a_model_name_cannot_forge_a_fits_alert_or_hide_the_verdict(tmp_path: Path) -> None:
    honest = run_cli("report", str(variant(tmp_path / "a", NOT_READY))).output
    forged = run_cli("report", str(variant(tmp_path / "b", NOT_READY, name=FORGED_NAME))).output
    assert alerts(forged) == alerts(honest)
    assert alerts(forged)[0][0] == "CAUTION" and alerts(forged)[0][1].startswith("**Not ready:**")
    assert blocks(forged) == blocks(honest)  # nothing swallowed by a comment, no extra quote or paragraph
    own_markup_only(forged)
    assert heading(forged) == "m`  > [!TIP] > **Fits:** 0 lint findings.  <!--"
    assert cell(forged, "Aspect", "Model") == heading(forged) + " (llama)"


def test_html_in_backticks_in_the_owner_stays_text(tmp_path: Path) -> None:
    owner = "`<img src=x onerror=alert(1)>`"
    spec = variant(tmp_path, "tiny-base.toml", owner=owner)
    md = run_cli("report", str(spec)).output
    own_markup_only(md)
    assert cell(md, "Aspect", "Owner") == owner
    page = tmp_path / "review.html"
    assert run_cli("report", str(spec), "-o", str(page)).exit_code == 0
    parsed = parse_html(page.read_text())
    summary = dict(row for row in parsed.tables[0] if len(row) == 2)
    assert summary["Owner"] == owner
    assert "<img" not in page.read_text()


def test_links_and_images_in_the_description_are_shown_not_rendered(tmp_path: Path) -> None:
    description = ("![](https://t.example/pixel.gif) [click](https://evil.example) <https://a.example> "
                   "www.b.example c@d.example [x]: https://ref.example")
    spec = variant(tmp_path, "tiny-base.toml", description=description)
    md = run_cli("report", str(spec)).output
    own_markup_only(md)
    assert description in [inline_text(t) for t in gfm().parse(md) if t.type == "inline"]
    page = tmp_path / "review.html"
    assert run_cli("report", str(spec), "-o", str(page)).exit_code == 0
    parsed = parse_html(page.read_text())
    assert parsed.external == [] and "<img" not in page.read_text()


def test_a_carriage_return_cannot_break_the_changed_keys_table_of_diff(tmp_path: Path) -> None:
    old = variant(tmp_path / "old", "tiny-base.toml", name="a")
    new = variant(tmp_path / "new", "tiny-base.toml", name="b\r| x | y |\r|---|---|\r| `c` |")
    md = run_cli("diff", str(old), str(new)).output
    own_markup_only(md)
    table = next(t for t in markdown_tables(md) if t[0][0] == "Key")
    assert table == [["Key", "Old", "New"], ["`model.name`", "`a`", "`b | x | y | |---|---| | `c` |`"]]


def test_eval_summary_escapes_task_metric_and_gate_text() -> None:
    from llmspec.eval.outputs import summary

    task, metric = "t|x<b>", "acc`|<img src=x>"
    results = {
        "run": {"model": "m\r\r> [!TIP]\r> passed", "versions": {}},
        "tasks": {task: {"metrics": {metric: {"value": 0.5, "n": 10, "higher_is_better": True}}}},
        "gates": [{"metric": f"{task}/{metric}", "kind": "threshold", "status": "fail", "value": 0.5,
                   "reason": "below\r\r> [!TIP]\r> <!-- 0.6"}],
    }
    md = summary(results, "FAIL")
    own_markup_only(md)
    assert alerts(md) == []
    metrics, gates = markdown_tables(md)
    assert metrics[1][:2] == [task, metric]
    assert gates[1][0] == f"{task}/{metric}" and gates[1][-1] == "below  > [!TIP] > <!-- 0.6"
    assert heading(md) == "llmspec eval: m  > [!TIP] > passed — FAIL"


# -- the class: random text in every free-text field -----------------------------------------------------------
# (no "http://": a plain-http URL anywhere in a spec is a real finding, SEC004)
PIECES = ["\r", "\n", "\r\n", "\u2028", "\u2029", "\x85", "\t", "\x1b]0;title\x07", "\x00", "`", "``", "|", "<", ">",
          "[", "]", "!", "*", "**", "_", "#", "-", "+", "=", "~", "&", "$", "@", ":", ".", "\\", " ", "    ", "1.",
          "<!--", "-->", "[!TIP]", "> ", "![x](y)", "[a](b)", "<img src=x>", "https://", "www.", "&lt;", "---"]
TEXT = st.lists(st.sampled_from(PIECES) | st.characters(exclude_categories=("Cs",)), max_size=10).map("".join)
SHOWN = TEXT.filter(lambda s: one_line(s).strip())  # blank text is left out of the report (a row less)


@pytest.fixture(scope="module")
def no_charts():
    """Charts off (matplotlib takes a second per chart; their text is the accelerator, not a free-text field):
    the path a user without the report extra takes."""
    from llmspec.report import charts

    saved = charts.matplotlib_available
    charts.matplotlib_available = lambda: False
    yield
    charts.matplotlib_available = saved


_HONEST: dict[str, tuple[str, str, list]] = {}


def _honest(example: str) -> tuple[str, str, list]:
    if example not in _HONEST:
        with tempfile.TemporaryDirectory() as tmp:
            _HONEST[example] = _render(variant(Path(tmp), example))
    return _HONEST[example]


def _render(path: Path) -> tuple[str, str, list]:
    from llmspec.report import render
    from llmspec.report.model import gather
    from llmspec.report.sections import report_document

    data = gather(str(path))
    doc = report_document(data)
    return render(doc, "md"), render(doc, "html"), [(f["code"], f.get("key")) for f in data.lint or []]


def _html_structure(text: str) -> list[tuple[str, tuple[str, ...]]]:
    from html.parser import HTMLParser

    out: list[tuple[str, tuple[str, ...]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            out.append((tag, tuple(sorted(name for name, _ in attrs))))

        def handle_comment(self, data):
            out.append(("<!--", ()))

    Collect().feed(text)
    return out


def _lint_table(md: str) -> list[list[str]]:
    """Code and severity of each row of the report's lint table ([] when there is none)."""
    return [row[:2] for table in markdown_tables(md) if table[0][0] == "Code" for row in table]


@pytest.mark.parametrize("example", [NOT_READY, "tiny-base.toml"])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # no shrinking: minutes per failure on 2 cores
@given(name=SHOWN, owner=SHOWN, description=SHOWN, tags=st.lists(TEXT, max_size=3))
def test_free_text_never_changes_the_verdict_findings_or_structure(no_charts, example, name, owner, description, tags):
    honest_md, honest_html, honest_lint = _honest(example)
    with tempfile.TemporaryDirectory() as tmp:
        md, page, findings = _render(variant(Path(tmp), example, name=name, owner=owner, description=description,
                                             tags=tags))
    assert findings == honest_lint
    assert alerts(md) == alerts(honest_md)
    assert _lint_table(md) == _lint_table(honest_md)
    own_markup_only(md)
    assert blocks(md) == blocks(honest_md)
    assert heading(md) == one_line(name).strip()
    family = cell(honest_md, "Aspect", "Model").removeprefix(heading(honest_md))  # " (llama)" or ""
    assert cell(md, "Aspect", "Model") == (one_line(name) + family).strip()
    assert cell(md, "Aspect", "Owner") == one_line(owner).strip()
    assert _html_structure(page.split("<svg")[0]) == _html_structure(honest_html.split("<svg")[0])
    title = parse_html(page)
    assert title.scripts == 0 and title.external == []


@settings(max_examples=100, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(task=SHOWN, metric=SHOWN, reason=SHOWN, model=SHOWN)
def test_eval_summary_keeps_its_tables_whatever_the_names(task, metric, reason, model):
    from llmspec.eval.outputs import summary

    results = {"run": {"model": model, "versions": {}},
               "tasks": {task: {"metrics": {metric: {"value": 0.5, "n": 10, "higher_is_better": True}}}},
               "gates": [{"metric": f"{task}/{metric}", "kind": "threshold", "status": "fail", "value": 0.5,
                          "reason": reason}]}
    md = summary(results, "FAILED")
    own_markup_only(md)
    assert alerts(md) == [] and heading(md) == f"llmspec eval: {one_line(model)} — FAILED"
    metrics, gates = markdown_tables(md)
    assert metrics[1][:2] == [one_line(task).strip(), one_line(metric).strip()]
    assert gates[1][0] == one_line(f"{task}/{metric}").strip() and gates[1][-1] == one_line(reason).strip()
    assert gates[1][2] == "❌ fail"
