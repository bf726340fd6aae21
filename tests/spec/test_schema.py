"""The JSON Schemas in schemas/: no drift from the models, real descriptions, and they agree with `llmspec check`
both ways: the examples pass check-jsonschema (a third-party validator) and the negative fixtures fail it.

Partial documents: a spec with ``hf_config`` and no [model.architecture] is valid as written (the schema does
not require the architecture); a spec with ``extends`` is validated twice, as written (the examples are written
so that this passes) and as merged by llmspec (``spec.source.raw``, after extends and hf_config).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest
from spec_helpers import EXAMPLES, FIXTURES, ROOT, SCHEMAS, run_cli

from llmspec.cli.schema import all_schemas
from llmspec.spec.loader import load_spec
from llmspec.spec.schema import render, spec_schema

SPEC_SCHEMA = SCHEMAS / "llmspec.schema.json"
EXAMPLE_FILES = sorted(EXAMPLES.rglob("*.toml"))
NEGATIVE = sorted((FIXTURES / "schema-negative").glob("*.toml"))
CHECK_JSONSCHEMA = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
# The loader accepts what the schema rejects here: pydantic's lax mode reads 1 as true. Spine request:
# strict=True in llmspec.spec.types.Strict.model_config. Strict xfail, so the fix shows up as a pass-turned-error.
LOADER_GAPS: dict[str, str] = {}  # fixture name -> reason, for known spine gaps (strict xfail)


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SPEC_SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _check_jsonschema(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHECK_JSONSCHEMA, "--schemafile", str(SPEC_SCHEMA), *map(str, files)],
        capture_output=True, text=True, timeout=120,
    )


# -- (a) drift ------------------------------------------------------------------------------------------------
def test_every_generated_schema_is_checked_in() -> None:
    for name, schema in all_schemas().items():
        path = SCHEMAS / name
        assert path.is_file(), f"schemas/{name} is missing; run `llmspec schema -o schemas`"
        assert path.read_text(encoding="utf-8") == render(schema), f"schemas/{name} drifted; run `llmspec schema -o schemas`"


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.json")), ids=lambda p: p.name)
def test_every_checked_in_schema_is_generated(path: Path) -> None:
    generated = all_schemas()
    assert path.name in generated, f"schemas/{path.name} has no generator in llmspec.cli.schema._generators()"
    assert path.read_text(encoding="utf-8") == render(generated[path.name])


def test_schema_command_writes_the_same_files(tmp_path: Path) -> None:
    result = run_cli("schema", "-o", str(tmp_path / "out"))
    assert result.code == 0
    for name, schema in all_schemas().items():
        assert (tmp_path / "out" / name).read_text(encoding="utf-8") == render(schema)
    printed = run_cli("schema")
    assert printed.code == 0 and json.loads(printed.out) == spec_schema()


def test_schema_is_a_valid_strict_draft_2020_12_schema() -> None:
    schema = json.loads(SPEC_SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    # [model] is required unless the spec extends a base that may provide it
    assert schema["if"] == {"not": {"required": ["extends"]}} and schema["then"] == {"required": ["model"]}
    for name, definition in schema["$defs"].items():  # every table is closed: unknown keys are errors
        assert definition.get("additionalProperties") is False, name


# -- (d) descriptions -----------------------------------------------------------------------------------------
def test_field_descriptions_flow_into_the_schema() -> None:
    schema = json.loads(SPEC_SCHEMA.read_text(encoding="utf-8"))
    defs = schema["$defs"]
    assert defs["Training"]["properties"]["epochs"]["description"] == "Passes over the training data (may be fractional)."
    assert defs["Training"]["description"].startswith("The training run")
    assert "GQA" in defs["Architecture"]["properties"]["n_kv_heads"]["description"]


def test_every_key_is_documented() -> None:
    schema = json.loads(SPEC_SCHEMA.read_text(encoding="utf-8"))
    undocumented = [
        f"{table}.{key}"
        for table, definition in [("(top)", schema), *schema["$defs"].items()]
        for key, prop in definition.get("properties", {}).items()
        if not prop.get("description", "").strip()
    ]
    assert undocumented == []


# -- (b) examples validate --------------------------------------------------------------------------------------
def test_examples_exist() -> None:
    names = {p.name for p in EXAMPLE_FILES}
    assert {"llama2-7b-lora-a100.toml", "llama3-8b-qlora-rtx4090.toml", "llama3-70b-full-fsdp-8xh100.toml"} <= names


def test_examples_pass_check_jsonschema() -> None:
    result = _check_jsonschema(*EXAMPLE_FILES)  # one process for all: it reads TOML natively
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=_rel)
def test_example_validates_with_jsonschema_as_written_and_merged(path: Path) -> None:
    validator = _validator()
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    assert [e.message for e in validator.iter_errors(raw)] == []
    merged = load_spec(path).source.raw  # after extends, --set and hf_config
    assert [e.message for e in validator.iter_errors(merged)] == []
    assert isinstance(merged["model"].get("architecture"), dict)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=_rel)
def test_example_passes_llmspec_check(path: Path) -> None:
    result = run_cli("check", str(path))
    assert (result.code, result.lines) == (0, [f"{path}: ok"])


# -- (e) the #:schema directive ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=_rel)
def test_example_has_a_schema_directive_that_resolves(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = re.fullmatch(r"#:schema (\S+)", first)
    assert match, f"{_rel(path)}: first line should be `#:schema <relative path to llmspec.schema.json>`"
    target = (path.parent / match.group(1)).resolve()
    assert target == SPEC_SCHEMA.resolve()


# -- (c) negative fixtures: rejected by both --------------------------------------------------------------------
def test_there_are_negative_fixtures() -> None:
    assert len(NEGATIVE) >= 10


@pytest.fixture(scope="module")
def check_jsonschema_on_negatives() -> dict[str, list[str]]:
    """One check-jsonschema run over every negative fixture (and one example, as a control): file -> errors."""
    control = EXAMPLES / "llama2-7b-lora-a100.toml"
    result = subprocess.run(
        [CHECK_JSONSCHEMA, "-o", "json", "--schemafile", str(SPEC_SCHEMA), *map(str, NEGATIVE), str(control)],
        capture_output=True, text=True, timeout=120,
    )
    report = json.loads(result.stdout)
    assert result.returncode == 1 and report["status"] == "fail" and report["parse_errors"] == []
    errors: dict[str, list[str]] = {}
    for error in report["errors"]:
        errors.setdefault(Path(error["filename"]).name, []).append(error["path"])
    assert control.name not in errors
    return errors


@pytest.mark.parametrize("path", NEGATIVE, ids=lambda p: p.name)
def test_negative_fixture_rejected_by_check_jsonschema(path: Path, check_jsonschema_on_negatives) -> None:
    assert path.name in check_jsonschema_on_negatives, f"check-jsonschema accepts {path.name}"


def test_check_jsonschema_text_output_on_one_negative() -> None:
    result = _check_jsonschema(FIXTURES / "schema-negative" / "missing-name.toml")
    assert result.returncode == 1
    assert "missing-name.toml::$.model: 'name' is a required property" in result.stdout


@pytest.mark.parametrize("path", NEGATIVE, ids=lambda p: p.name)
def test_negative_fixture_rejected_by_jsonschema_library(path: Path) -> None:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    assert list(_validator().iter_errors(raw)), f"{path.name} validates against the schema"


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, marks=[pytest.mark.xfail(reason=LOADER_GAPS[p.name], strict=True)] if p.name in LOADER_GAPS else [])
     for p in NEGATIVE],
    ids=lambda p: p.name,
)
def test_negative_fixture_rejected_by_llmspec_check(path: Path) -> None:
    """Each fixture names its exact expected lines in `# expect: {file}:LINE:COL: message` comments."""
    text = path.read_text(encoding="utf-8")
    expected = [line.removeprefix("# expect: ").replace("{file}", path.name)
                for line in text.splitlines() if line.startswith("# expect: ")]
    assert expected, f"{path.name} has no `# expect:` line"
    result = run_cli("check", path.name, cwd=path.parent)
    assert (result.code, result.lines) == (2, expected)
