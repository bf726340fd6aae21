"""Consent for suite code: a user suite is code, as a checkpoint with trust_remote_code is.

lm-eval 0.4.13 runs Python from a task YAML in four ways, all found here without running any of it:

- ``!function module.fn`` tags: lm-eval's YAML loader imports ``module.py`` beside the YAML (or any importable
  module) while it parses the file (lm_eval/tasks/_yaml_loader.py, ``_import_func_in_yml``);
- ``include:`` pulls further YAMLs (with their own tags) in;
- prompt templates are rendered by an unsandboxed Jinja2 environment (lm_eval/utils.py, ``env`` and
  ``apply_template``), where ``{{ cycler.__init__.__globals__ }}`` reaches Python's internals;
- a metric name lm-eval does not register, or ``hf_evaluate: true``, falls back to ``evaluate.load`` from the hub
  (lm_eval/api/registry.py, ``get_metric``), which downloads and runs a script.

The project's own suites (shipped in the package) are trusted, also when a user suite names their YAMLs. A user suite that carries code runs only when the
spec sets ``[eval].trust_suite_code = true`` and the command line passes ``--trust-suite-code``. This module reads
YAML with a composer that never constructs tags, and imports neither lm_eval nor torch (lint uses it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from llmspec.eval.modelref import EvalError

# lm-eval 0.4.13's metric registry after `import lm_eval.api.metrics` (lm_eval/api/metrics.py,
# @register_metric); tests/eval/test_suite_trust.py checks this against the real registry.
LM_EVAL_METRICS = frozenset({
    "acc", "acc_all", "acc_bytes", "acc_mutual_info", "acc_norm", "bits_per_byte", "bleu", "brier_score", "bypass",
    "byte_perplexity", "chrf", "chrf++", "exact_match", "f1", "likelihood", "mcc", "perplexity", "ter",
    "word_perplexity",
})
CONSENT = "review it, then allow it with [eval].trust_suite_code = true and --trust-suite-code"
_STANDARD_TAG = "tag:yaml.org,2002:"
_TEMPLATE = re.compile(r"\{\{|\{%")
_TAG_TEXT = re.compile(r"(?:^|[\s\[\]{},:-])(![^\s\[\]{},]*)")


@dataclass(frozen=True)
class CodeUse:
    """One place a suite runs code: ``file:line:col`` and what runs."""

    file: Path
    line: int
    col: int
    what: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.what}"


def _trusted(path: Path) -> bool:
    """A file of the suites shipped with llmspec (trusted like the package's own code)."""
    from llmspec.resources import data_dir

    return Path(path).resolve().is_relative_to(data_dir("suites").resolve())


def suite_code(suite) -> list[CodeUse]:
    """Every code use in the task YAMLs lm-eval would read for ``suite`` (a loaded :class:`Suite`): each local task
    YAML's folder, recursively, as lm-eval's TaskManager indexes it, and every ``include:`` from there."""
    folders = sorted({p.parent for p in (suite.task_path(t) for t in suite.tasks) if p is not None})
    files = sorted({f.resolve() for d in folders for f in _yaml_files(d)})
    files = [f for f in files if not _trusted(f)]
    uses: list[CodeUse] = []
    seen: set[Path] = set()
    for f in files:
        uses += _scan_file(f, seen)
    return uses


def require_consent(suites: Iterable, spec_flag: bool, cli_flag: bool, log: Callable[[str], None]) -> bool:
    """Whether user suite code may run; raises a one-line EvalError (exit 2) for code without consent."""
    if spec_flag and not cli_flag:
        log("note: the spec sets [eval].trust_suite_code, but suite code stays off without --trust-suite-code")
    if spec_flag and cli_flag:
        return True
    for s in suites:
        uses = suite_code(s)
        if uses:
            more = f" (and {len(uses) - 1} more)" if len(uses) > 1 else ""
            hint = "the spec consents, but suite code also needs --trust-suite-code" if spec_flag else CONSENT
            raise EvalError(f"{uses[0]}{more}: suite {s.name!r} runs code; {hint}", 2)
    return False


def _yaml_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()]


def _scan_file(path: Path, seen: set[Path]) -> list[CodeUse]:
    path = path.resolve()
    if path in seen or _trusted(path):
        return []
    seen.add(path)
    from llmspec.spec.tomltext import ReadError, read_bytes

    try:  # a regular file of bounded size, opened non-blocking (a FIFO named *.yaml never hangs lint)
        text = read_bytes(path).decode("utf-8")
    except (ReadError, UnicodeDecodeError) as e:
        return [CodeUse(path, 1, 1, f"cannot be checked for code ({e})")]
    try:
        import yaml
    except ImportError:  # core install without PyYAML: a conservative line scan
        return _scan_text(path, text)
    uses: list[CodeUse] = []
    includes: list[tuple[str, int, int]] = []
    try:
        for doc in yaml.compose_all(text, Loader=yaml.SafeLoader):
            if doc is not None:
                _walk(doc, path, uses, includes, set())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return [CodeUse(path, line, col, f"cannot be checked for code: invalid YAML ({getattr(e, 'problem', e)})")]
    for inc, line, col in includes:
        target = Path(inc) if Path(inc).is_absolute() else path.parent / inc
        if not target.is_file():
            uses.append(CodeUse(path, line, col, f"include {inc!r} cannot be checked for code (not a file)"))
            continue
        uses += _scan_file(target, seen)
    return uses


def _walk(node, path: Path, uses: list[CodeUse], includes: list, visited: set[int]) -> None:
    import yaml

    if id(node) in visited:  # aliases share nodes: visit each once (no exponential "billion laughs" walk)
        return
    visited.add(id(node))
    line, col = node.start_mark.line + 1, node.start_mark.column + 1
    tag = node.tag or ""
    if not tag.startswith(_STANDARD_TAG) or tag.startswith(_STANDARD_TAG + "python"):
        value = node.value if isinstance(node, yaml.ScalarNode) else "..."
        what = f"{tag} {value} runs Python"
        if tag == "!function":
            module = str(value).rpartition(".")[0].replace(".", "/")
            beside = path.parent / f"{module}.py"
            what += f" ({beside.name} beside the YAML)" if beside.is_file() else " (an importable module)"
        uses.append(CodeUse(path, line, col, what))
        return
    if isinstance(node, yaml.ScalarNode):
        if isinstance(node.value, str) and _TEMPLATE.search(node.value) and "__" in node.value:
            uses.append(CodeUse(path, line, col, "a template reaches Python internals (a name with '__')"))
        return
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            _walk(child, path, uses, includes, visited)
        return
    for key, value in node.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else None
        if name == "include":
            items = value.value if isinstance(value, yaml.SequenceNode) else [value]
            includes += [(i.value, i.start_mark.line + 1, i.start_mark.column + 1) for i in items
                         if isinstance(i, yaml.ScalarNode) and i.tag == _STANDARD_TAG + "str"]
        elif name == "hf_evaluate" and isinstance(value, yaml.ScalarNode) and value.value.lower() == "true":
            uses.append(CodeUse(path, value.start_mark.line + 1, value.start_mark.column + 1,
                                "hf_evaluate: true loads a metric script from the hub with evaluate.load"))
        elif (name == "metric" and isinstance(value, yaml.ScalarNode) and value.tag == _STANDARD_TAG + "str"
              and value.value not in LM_EVAL_METRICS):
            uses.append(CodeUse(path, value.start_mark.line + 1, value.start_mark.column + 1,
                                f"metric {value.value!r} is not an lm-eval metric, so lm-eval would fetch and run "
                                f"it with evaluate.load"))
        _walk(key, path, uses, includes, visited)
        _walk(value, path, uses, includes, visited)


def _scan_text(path: Path, text: str) -> list[CodeUse]:
    """Without PyYAML: every tag, hf_evaluate and dunder template, line by line (over-reports, never misses a tag)."""
    uses = []
    for n, line in enumerate(text.splitlines(), 1):
        body = line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""
        m = _TAG_TEXT.search(body)
        if m:
            uses.append(CodeUse(path, n, m.start(1) + 1, f"{m.group(1)} tag: may run Python"))
        elif "hf_evaluate" in body or "include" in body.split(":", 1)[0] or (_TEMPLATE.search(body) and "__" in body):
            uses.append(CodeUse(path, n, 1, "may run code (install PyYAML for an exact check)"))
    return uses
