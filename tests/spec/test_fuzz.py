"""Property-based tests: whatever the input, loading gives a Spec or clean problems, never anything else.

Inputs: random TOML documents (random nested tables of scalars and arrays, keyed mostly by real spec keys so
that validation is reached), mutations of the example specs (deleted, duplicated and swapped lines, swapped
values, renamed keys, truncation, inserted characters) and random bytes. Derandomised, so CI is deterministic.
"""

from __future__ import annotations

import atexit
import datetime as dt
import math
import re
import shutil
import tempfile
import typing
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from spec_helpers import EXAMPLES, run_cli

from llmspec.spec.loader import SpecError, load_spec
from llmspec.spec.models import Spec

FUZZ = settings(max_examples=120, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck),
                database=None)
EXAMPLE_TEXTS = {p.name: p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.toml"))}
WORKDIR = Path(tempfile.mkdtemp(prefix="llmspec-fuzz-"))
atexit.register(shutil.rmtree, WORKDIR, True)
# a base spec and a config.json beside the fuzzed file, so that mutated extends / hf_config can resolve
shutil.copytree(EXAMPLES / "base", WORKDIR / "base")
shutil.copytree(EXAMPLES / "configs", WORKDIR / "configs")


def _field_names(model: type[BaseModel], seen: set) -> set[str]:
    names: set[str] = set()
    if model in seen:
        return names
    seen.add(model)
    for name, field in model.model_fields.items():
        names.add(name)
        for arg in _flatten(field.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                names |= _field_names(arg, seen)
    return names


def _flatten(annotation) -> list:
    args = typing.get_args(annotation)
    return [annotation] if not args else [a for arg in args for a in _flatten(arg)]


SPEC_KEYS = sorted(_field_names(Spec, set()))


# -- a tiny TOML writer (tomllib only reads) -------------------------------------------------------------------
def _string(text: str) -> str:
    """A TOML basic string: quotes and backslashes escaped, control characters (and DEL) as \\uXXXX."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _string(key)


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, (int, dt.date, dt.time)):
        return value.isoformat() if not isinstance(value, int) else str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(type(value))


def to_toml(doc: dict) -> str:
    """Top-level tables as [headers], deeper tables as [a.b] headers or inline tables, arrays of tables as [[x]]."""
    lines: list[str] = []
    tables: list[tuple[list[str], dict]] = []
    for key, value in doc.items():
        if isinstance(value, dict):
            tables.append(([key], value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            tables.extend(([key, "[]"], v) for v in value)
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    for path, table in tables:
        if path[-1] == "[]":
            lines.append(f"[[{_key(path[0])}]]")
        else:
            lines.append("[" + ".".join(_key(p) for p in path) + "]")
        for key, value in table.items():
            lines.append(f"{_key(key)} = {_value(value)}")
    return "\n".join(lines) + "\n"


keys = st.one_of(st.sampled_from(SPEC_KEYS), st.sampled_from(SPEC_KEYS), st.text(min_size=1, max_size=8))
scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(["40M", "6.74B", "80GiB", "40Q", "lora", "qlora", "bf16-mixed", "A100-80GB", "H100", "a/b", "",
                     "configs/llama-3-8b.json", "base/llama-3-70b.toml", "../x.toml"]),
    st.dates(),
    st.times(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)
section = st.dictionaries(keys, values, max_size=6)
documents = st.dictionaries(
    st.one_of(st.sampled_from(["model", "training", "sampling", "inference", "hardware", "eval", "meta"]), keys),
    st.one_of(section, values, st.lists(section, min_size=1, max_size=3)),
    max_size=6,
)


# -- mutations of the examples ---------------------------------------------------------------------------------
@st.composite
def mutated_example(draw) -> str:
    lines = draw(st.sampled_from(sorted(EXAMPLE_TEXTS.items())))[1].splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        op = draw(st.sampled_from(["delete", "duplicate", "swap-lines", "swap-values", "rename", "truncate", "insert"]))
        i = draw(st.integers(0, len(lines) - 1))
        j = draw(st.integers(0, len(lines) - 1))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(j, lines[i])
        elif op == "swap-lines":
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "swap-values" and "=" in lines[i] and "=" in lines[j]:
            (ki, _, vi), (kj, _, vj) = lines[i].partition("="), lines[j].partition("=")
            lines[i], lines[j] = f"{ki}={vj}", f"{kj}={vi}"
        elif op == "rename" and "=" in lines[i]:
            key, _, rest = lines[i].partition("=")
            new = draw(st.one_of(st.sampled_from(SPEC_KEYS), st.text(alphabet="abcdefghijklmnop_", min_size=1, max_size=10)))
            lines[i] = f"{new} ={rest}"
        elif op == "truncate":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif op == "insert":
            col = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:col] + draw(st.text(alphabet="[]{}\"'=.,#\\ \t\nx1", min_size=1, max_size=3)) + lines[i][col:]
    return "\n".join(lines) + "\n"


def _paths(node, prefix=()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, prefix + (index,))
    return out


@st.composite
def perturbed_example(draw) -> dict:
    """An example spec as data with one to three values replaced by random ones, or random keys added: every
    kind of validation error, at every depth, with values of every type (dates included)."""
    import copy
    import tomllib

    name, text = draw(st.sampled_from(sorted(EXAMPLE_TEXTS.items())))
    doc = copy.deepcopy(tomllib.loads(text))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)[1:]))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict) and draw(st.booleans()):
            parent[draw(keys)] = draw(values)  # add a key beside an existing one
        else:
            parent[path[-1]] = draw(values)  # replace an existing value
    return doc


# -- the property ----------------------------------------------------------------------------------------------
def assert_clean_outcome(content: str | bytes) -> None:
    path = WORKDIR / "fuzzed.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    try:
        spec = load_spec(path)
    except SpecError as exc:
        assert exc.problems, "SpecError without problems"
        for problem in exc.problems:
            assert problem.line >= 1 and problem.col >= 1, problem
            assert problem.message.strip() and "\n" not in problem.message and "\r" not in problem.message, problem
            assert problem.kind in ("io", "toml", "schema", "extends"), problem
            text = None
            if problem.file == str(path) and not isinstance(content, bytes):
                text = content
            if text is not None:  # positions inside the fuzzed file lie inside it
                assert problem.line <= text.count("\n") + 1, (problem, text)
        return
    assert isinstance(spec, Spec)
    assert spec.model.architecture is not None


@FUZZ
@given(documents)
def test_random_documents(doc: dict) -> None:
    assert_clean_outcome(to_toml(doc))


@FUZZ
@given(perturbed_example())
def test_perturbed_examples(doc: dict) -> None:
    assert_clean_outcome(to_toml(doc))


@FUZZ
@given(mutated_example())
def test_mutated_examples(text: str) -> None:
    assert_clean_outcome(text)


@settings(FUZZ, max_examples=80)
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    assert_clean_outcome(data)


@settings(FUZZ, max_examples=80)
@given(st.text(alphabet=st.sampled_from(list("[]{}\"'=.,#\\ \t\n\r\x00\x7fé€abcmodel123_-+:")), max_size=120))
def test_random_toml_like_text(text: str) -> None:
    assert_clean_outcome(text)


def test_writer_round_trips() -> None:
    import tomllib

    doc = {"a": 1, "model": {"name": "x", "n": [1, 2], "t": {"k": "v"}}, "gates": [{"m": 1}, {"m": 2}], "f": 1.5,
           "s": 'q"\\\x00\x7f\n\U0001f996é', "key with space": {"d": dt.date(2024, 1, 2), "t": dt.time(1, 2, 3)}}
    assert tomllib.loads(to_toml(doc)) == doc


@settings(FUZZ, max_examples=15)
@given(st.one_of(documents.map(to_toml), mutated_example(), st.binary(max_size=200)))
def test_cli_never_reports_an_internal_error(content) -> None:
    path = WORKDIR / "cli.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    result = run_cli("check", str(path), "--set", "training.epochs=2")
    assert "internal error" not in result.out + result.err
    assert "Traceback" not in result.out + result.err
    assert result.code in (0, 2)
    if result.code == 2:
        assert all(re.match(r"^.+:\d+:\d+: \S", line) for line in result.lines), result.lines
