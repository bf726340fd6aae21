"""Turn pydantic validation errors into one-line problems that say what is wrong and how to fix it."""

from __future__ import annotations

import datetime
import types
import typing
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from llmspec.spec.problems import did_you_mean, dotted

_TYPE_WORDS = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "an array",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "dict_type": "a table",
}
_BOUNDS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}


def _show(value: Any) -> str:
    """A short TOML-ish rendering of a value the user wrote, for messages (never longer than ~60 characters)."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            return "an array of tables"
        if len(value) > 3 or any(isinstance(v, (dict, list)) for v in value):
            return "an array"
        text = "[" + ", ".join(_show(v) for v in value) + "]"
        return text if len(text) <= 60 else "an array"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime.date, datetime.time)):  # TOML dates and times (datetime is a date subclass)
        return f"the date/time {value.isoformat()}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


show_value = _show


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types inside Optional[...], list[...], Annotated[...]."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, dict):
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            out.extend(_unwrap(arg))
        return out
    return [annotation]


def model_at(root: type[BaseModel], loc: Iterable[Any]) -> type[BaseModel] | None:
    """The pydantic model class that the table at ``loc`` is validated by."""
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        nested = [t for t in _unwrap(field.annotation) if isinstance(t, type) and issubclass(t, BaseModel)]
        model = nested[0] if nested else None
    return model


def _literal_choices(root: type[BaseModel], loc: tuple) -> list[str]:
    parent = model_at(root, loc[:-1])
    if parent is None or not isinstance(loc[-1], str) or loc[-1] not in parent.model_fields:
        return []
    choices: list[str] = []
    for t in _unwrap(parent.model_fields[loc[-1]].annotation):
        if typing.get_origin(t) is typing.Literal:
            choices.extend(str(a) for a in typing.get_args(t))
    return choices


def _table_name(loc: tuple, top: str = "the top level") -> str:
    return f"[{dotted(loc)}]" if loc else top


# Values that belong to another key, written where users look for them first: (key, value folded) -> the hint
_SHARDING = ("a sharding backend, not a stack: set hardware.sharding = {setting} and keep training.stack for the "
             "trainer that runs it (e.g. \"hf-trainer\", \"accelerate\" or \"lightning\")")
_ELSEWHERE: dict[tuple[tuple[str, ...], str], str] = {
    **{(("training", "stack"), word): "DeepSpeed is " + _SHARDING.format(setting='"zero1", "zero2" or "zero3"')
       for word in ("deepspeed", "ds", "zero", "zero1", "zero2", "zero3", "zero-1", "zero-2", "zero-3")},
    **{(("training", "stack"), word): "FSDP is " + _SHARDING.format(setting='"fsdp"')
       for word in ("fsdp", "fsdp1", "fsdp2", "fully-sharded")},
}


def _elsewhere(loc: tuple, value: Any) -> str:
    """"; DeepSpeed is a sharding backend ..." when ``value`` belongs to another key than ``loc``, else ""."""
    if not isinstance(value, str):
        return ""
    folded = value.strip().lower().replace("_", "-").replace(" ", "-")
    hint = _ELSEWHERE.get((tuple(str(part) for part in loc), folded))
    return f"; {hint}" if hint else ""


def message_for(root: type[BaseModel], error: ErrorDetails, top: str = "the top level") -> str:
    """One line for one pydantic error, naming the key, what was found, and the fix. ``top`` names the
    document's top level in messages (a project config says "[tool.llmspec]")."""
    loc = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    key = dotted(loc)
    ctx = error.get("ctx") or {}

    if kind == "extra_forbidden":
        parent = model_at(root, loc[:-1])
        fields = list(parent.model_fields) if parent else []
        hint = did_you_mean(str(loc[-1]), fields)
        if not hint and fields:
            hint = f"; allowed keys: {', '.join(fields)}"
        return f"unknown key {loc[-1]!r} in {_table_name(loc[:-1], top)}{hint}"
    if kind == "missing":
        if model_at(root, loc) is not None and model_at(root, loc) is not root:
            return f"missing required table [{key}]"
        return f"missing required key {loc[-1]!r} in {_table_name(loc[:-1], top)}"
    if kind in ("literal_error", "enum"):
        choices = _literal_choices(root, loc)
        hint = _elsewhere(loc, value) or (did_you_mean(value, choices) if isinstance(value, str) else "")
        listed = ", ".join(repr(c) for c in choices) if choices else ctx.get("expected", "")
        return f"{key}: {_show(value)} is not one of {listed}{hint}"
    if kind in ("finite_number",):
        return f"{key}: {_show(value)} is not allowed; write a finite number"
    if kind in _BOUNDS:
        name, op = _BOUNDS[kind]
        return f"{key}: {_show(value)} is out of range; it must be {op} {ctx.get(name)}"
    if kind in ("too_long", "too_short"):
        return f"{key}: {error['msg'][0].lower()}{error['msg'][1:]}"
    if kind in ("string_too_long", "string_too_short", "string_pattern_mismatch"):
        if kind == "string_pattern_mismatch" and loc[-1:] == ("metric",):
            return f"{key}: {_show(value)} should be \"task/metric\", e.g. \"support_qa/f1\""
        return f"{key}: {_show(value)}: {error['msg'][0].lower()}{error['msg'][1:]}"
    if kind == "int_parsing_size":  # e.g. 1e30 for an integer key: absurd, and too big to be read as one
        return f"{key}: {_show(value)} is far too large; write a realistic whole number"
    if kind == "int_type" and isinstance(value, float):  # strict mode: no silent float -> int
        if abs(value) >= 2**63:
            return f"{key}: {_show(value)} is far too large; write a realistic whole number"
        if not value.is_integer():
            return f"{key}: expected a whole number, got {_show(value)}"
        return f"{key}: expected an integer, got {_show(value)}; write {int(value)}"
    if kind in _TYPE_WORDS:
        return f"{key}: expected {_TYPE_WORDS[kind]}, got {_show(value)}"
    if kind == "value_error":
        text = str(ctx.get("error", error["msg"]))
        return f"{key}: {text}" if key else text
    if kind == "assertion_error":
        return f"{key}: {error['msg']}"
    msg = error["msg"]
    return f"{key}: {msg[0].lower()}{msg[1:]} (got {_show(value)})" if key else msg


def _union_members(annotation: Any) -> list[Any]:
    """The members of a field that is itself a union (Optional and Annotated stripped). A container of unions
    (dict[str, A | B], list[A | B]) is not one: the next part of an error's path there is a key or an index, not a
    member tag."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _union_members(typing.get_args(annotation)[0])
    if origin not in (typing.Union, types.UnionType):
        return []
    members = [t for t in typing.get_args(annotation) if t is not type(None)]
    if len(members) == 1:
        return _union_members(members[0])
    out: list[Any] = []
    for member in members:
        out.extend(_unwrap(member) if typing.get_origin(member) in (typing.Union, types.UnionType) else [member])
    return out


def _union_tag_at(root: type[BaseModel], loc: tuple) -> int | None:
    """The index in ``loc`` of the union member tag pydantic appends after a union field's key (e.g.
    ('inference', 'kv_cache_tokens', 'constrained-int')), or None when the error is not inside a union member."""
    for i in range(1, len(loc)):
        parent = model_at(root, loc[:i - 1])
        name = loc[i - 1]
        if parent is None or not isinstance(name, str) or name not in parent.model_fields:
            continue
        members = _union_members(parent.model_fields[name].annotation)
        here = model_at(root, loc[:i])
        if len(members) > 1 and isinstance(loc[i], str) and (here is None or loc[i] not in here.model_fields):
            return i
    return None


def _expected(error: ErrorDetails, choices: list[str]) -> str:
    """What one union member expects, in words: "an integer >= 1", "'context_length'"."""
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind in ("literal_error", "enum"):
        return " or ".join(repr(c) for c in choices) if choices else str(ctx.get("expected", ""))
    if kind in _BOUNDS:
        name, op = _BOUNDS[kind]
        return f"{'an integer' if isinstance(value, int) else 'a number'} {op} {ctx.get(name)}"
    if kind == "int_type" and isinstance(value, float):
        return "a whole number"
    if kind in _TYPE_WORDS:
        return _TYPE_WORDS[kind]
    msg = error["msg"]
    return msg[0].lower() + msg[1:]


def messages_for(root: type[BaseModel], errors: list[ErrorDetails],
                 top: str = "the top level") -> list[tuple[tuple, str]]:
    """(key path, one line) per problem: message_for for each error, except that the errors of one union field
    (one per union member, each with pydantic's member tag in its path, e.g. ``constrained-int`` and
    ``literal['context_length']``) become a single line at the field that says what each member accepts, with a
    did-you-mean for a near-miss string."""
    out: list[tuple[tuple, str]] = []
    groups: dict[tuple, list[ErrorDetails]] = {}
    order: list[tuple] = []
    for error in errors:
        loc = tuple(error["loc"])
        at = _union_tag_at(root, loc)
        if at is None:
            order.append(loc)
            groups[loc] = [error]
            continue
        field = loc[:at]
        if field not in groups:
            order.append(field)
            groups[field] = []
        groups[field].append(error)
    for field in order:
        group = groups[field]
        if len(group) == 1 and tuple(group[0]["loc"]) == field:
            out.append((field, message_for(root, group[0], top)))
            continue
        choices = _literal_choices(root, field)
        value = group[0].get("input")
        wanted: list[str] = []
        for error in group:
            text = _expected(error, choices)
            if text and text not in wanted:
                wanted.append(text)
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**63 and not hint:
            hint = f"; write {int(value)}"
        out.append((field, f"{dotted(field)}: {_show(value)} must be {' or '.join(wanted)}{hint}"))
    return out
