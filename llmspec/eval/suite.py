"""Suites: TOML files that list lm-eval tasks (``suites/NAME.toml``).

A task is either a built-in lm-eval task (``task = "hellaswag"``: needs the dataset hubs) or a local task
YAML shipped with the suite (``path = "smoke/kb_mc.yaml"``: runs offline). Paths resolve relative to the
suite file. ``schemas/suite.schema.json`` is generated from :class:`Suite` (``python -m llmspec.eval.suite``).
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SCHEMA_ID = "https://llmspec.dev/schemas/suite.schema.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, use_attribute_docstrings=True)


class SuiteTask(_Strict):
    """One lm-eval task of a suite."""

    task: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9_.\-]+$")
    """lm-eval task name: a built-in task (e.g. "hellaswag") or the `task:` of the YAML named by path."""
    path: str | None = Field(default=None, max_length=4096)
    """Task YAML file (relative to the suite file) for a local task; omit for lm-eval's built-in tasks."""
    num_fewshot: int | None = Field(default=None, ge=0, le=1000)
    """Few-shot examples; defaults to the task's own setting ([eval].num_fewshot overrides both)."""
    limit: int | None = Field(default=None, ge=1)
    """Evaluate only the first N documents ([eval].limit and --limit override it)."""
    metrics: list[str] = Field(default_factory=list, max_length=64)
    """llmspec metric plugins to score from the per-sample outputs (e.g. "acc", "macro_f1",
    "word_perplexity"); lm-eval's own figures are always recorded too."""
    generation_kwargs: dict[str, Any] | None = None
    """Generation arguments for this task; when absent, [sampling] of the spec applies to generation tasks
    unless the task YAML sets its own."""
    offline: bool | None = None
    """Whether the task runs without network access; default: true for local YAMLs, false for built-ins."""


class Suite(_Strict):
    """A named list of lm-eval tasks that `llmspec eval` runs with one model load."""

    name: str = Field(min_length=1, max_length=128)
    """Suite name (what [eval].suites and --suite refer to)."""
    description: str | None = Field(default=None, max_length=10_000)
    """What the suite measures."""
    tasks: list[SuiteTask] = Field(min_length=1, max_length=1024)
    """The tasks, run in this order."""

    _file: Path | None = None

    @property
    def file(self) -> Path | None:
        return self._file

    def task_path(self, task: SuiteTask) -> Path | None:
        """Absolute path of a local task's YAML (relative paths resolve against the suite file)."""
        if task.path is None:
            return None
        base = self._file.parent if self._file else Path.cwd()
        return (base / task.path).resolve()

    def is_offline(self, task: SuiteTask) -> bool:
        return task.offline if task.offline is not None else task.path is not None


class SuiteError(Exception):
    """A suite that cannot be found or read; str() is one line ``file: message``."""


def find_suite(ref: str, spec_dir: Path | None = None) -> Path:
    """A suite file from a name or a path: a path as given (relative to the spec), then ``NAME.toml`` beside
    the spec and in ``suites/`` beside it, then the built-in suites shipped with llmspec."""
    from llmspec.resources import data_dir

    spec_dir = spec_dir or Path.cwd()
    candidates = []
    if ref.endswith(".toml") or "/" in ref or "\\" in ref:
        candidates.append(spec_dir / ref)
        candidates.append(Path(ref))
    else:
        candidates += [spec_dir / f"{ref}.toml", spec_dir / "suites" / f"{ref}.toml",
                       data_dir("suites") / f"{ref}.toml"]
    for c in candidates:
        if c.is_file():
            return c.resolve()
    raise SuiteError(f"suite {ref!r} not found (looked in: {', '.join(str(c) for c in candidates)})")


def load_suite(path: Path) -> Suite:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise SuiteError(f"{path}: cannot read: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise SuiteError(f"{path}: invalid TOML: {e}") from None
    try:
        suite = Suite.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise SuiteError(f"{path}: {where}: {err['msg']}") from None
    suite._file = Path(path).resolve()
    for t in suite.tasks:
        p = suite.task_path(t)
        if p is not None and not p.is_file():
            raise SuiteError(f"{path}: task {t.task!r}: task YAML {t.path!r} not found ({p})")
    return suite


def json_schema() -> dict:
    schema = Suite.model_json_schema()
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
    return schema


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":  # python -m llmspec.eval.suite > schemas/suite.schema.json
    sys.stdout.write(schema_text())
