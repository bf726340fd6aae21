"""Run the rules over spec files: load, check, suppress, configure, collect.

``lint_paths(paths)`` is the library entry point behind ``llmspec lint``; it never imports torch,
transformers or lm_eval (estimates are imported only when a rule asks for one).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llmspec.config import Config, ConfigError, config_file, load_config
from llmspec.lint import noqa
from llmspec.lint.discover import discover, glob_match, is_yaml
from llmspec.lint.registry import ENGINE_CODES, all_rules, check_selectors, matches
from llmspec.lint.rule import Context, Finding, Rule
from llmspec.spec import tomltext

_SPC = {"toml": "SPC001", "schema": "SPC002", "io": "SPC003", "extends": "SPC003"}


class LintUsageError(Exception):
    """A usage error on the command line (unknown code, bad path): exit 2."""


class ForeignConfigError(LintUsageError):
    """A training config of another tool that cannot be linted: one ``file:line:col`` line, exit 2."""


class MissingPaths(LintUsageError):
    """Paths named on the command line that do not exist: one line each, in `llmspec check`'s form
    (``nope.toml:1:1: nope.toml: no such file``), exit 2."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = list(paths)
        self.lines = [f"{p}:1:1: {p}: no such file" + ("" if _looks_like_a_file(p) else " or folder") for p in paths]
        super().__init__("\n".join(self.lines))


def _looks_like_a_file(path: str) -> bool:
    return path.lower().endswith((".toml", ".yaml", ".yml", ".json"))


def unreadable(finding: Finding) -> bool:
    """Whether ``finding`` says that a spec file itself could not be read (a FIFO, no permission, too large): the
    loader's ``file:1:1: file: reason`` line, which `check` exits 2 on. `lint` exits 2 on it too, after the report,
    for a file named on the command line."""
    return (finding.code == "SPC003" and (finding.line, finding.col) == (1, 1)
            and finding.message.startswith(f"{finding.file}: "))


@dataclass
class LintResult:
    findings: list[Finding] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    """Every spec file linted, in order."""
    skipped: list[str] = field(default_factory=list)
    """Files named on the command line that are not specs (see discover.is_spec)."""
    rules: dict[str, type[Rule]] = field(default_factory=dict)
    """Every rule known in this run (built-in and plugin), by code."""
    errors: list[str] = field(default_factory=list)
    """One `file:line:col` line per training config of another tool that could not be read (exit 2, after the
    other files' findings are reported: one bad file never loses the others')."""

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)


@dataclass
class Options:
    select: Sequence[str] | None = None
    """Replaces the config's select when given."""
    ignore: Sequence[str] = ()
    """Added to the config's ignore."""
    overrides: Sequence[str] = ()
    """--set KEY=VALUE."""
    data: bool = False
    """Run the opt-in data checks (they read dataset files)."""
    config: Path | None = None
    """An explicit config file instead of discovery."""
    jobs: int | None = None
    """Worker processes for large batches; None: one per CPU when there are at least PARALLEL_MIN specs."""
    tool: str | None = None
    """--from: the tool every YAML training config is for (else detected from its keys)."""
    skip_other_yaml: bool = False
    sharding: Sequence[str] = ()
    """--sharding-config: accelerate / DeepSpeed / FSDP configs read with every YAML training config."""
    """Named YAML files that are no known tool's training config are skipped (pre-commit names every file)."""


PARALLEL_MIN = 64
"""Below this many specs, one process is faster than starting workers."""


# A spec lint could not read (not TOML, invalid, unreadable) or a rule that crashed: never hidden by --select,
# --ignore, per_file_ignores or noqa, since "All checks passed" would then vouch for a spec nobody checked.
UNSUPPRESSIBLE = frozenset({"SPC001", "SPC002", "SPC003", "LNT003"})


class _Plan:
    """Rule instances and selectors of one configuration."""

    def __init__(self, config: Config, options: Options, rules: Mapping[str, type[Rule]]):
        self.config = config
        self.select = list(options.select) if options.select is not None else list(config.select)
        self.ignore = [*config.ignore, *options.ignore]
        self._validate(rules, options)
        self.instances: list[Rule] = []
        for code, cls in rules.items():
            if not self.enabled(code):
                continue
            if cls.opt_in and not getattr(options, cls.opt_in, False):
                continue
            self.instances.append(cls(config.thresholds.get(code), config.severity.get(code)))
        self.codes = {r.code for r in self.instances} | {c for c in ENGINE_CODES if self.enabled(c)}
        self.known = set(rules) | set(ENGINE_CODES)

    def enabled(self, code: str) -> bool:
        if code in UNSUPPRESSIBLE:
            return True
        return matches(code, self.select) and not matches(code, self.ignore)

    def _validate(self, rules: Mapping[str, type[Rule]], options: Options) -> None:
        from llmspec.spec.problems import did_you_mean

        known = set(rules) | set(ENGINE_CODES)
        for where, selectors in (("select", self.config.select), ("ignore", self.config.ignore)):
            for bad in check_selectors(selectors):
                raise self.config.error((where,), f"{where}: {bad!r} matches no rule code{did_you_mean(bad, known)}")
        for pattern, selectors in self.config.per_file_ignores.items():
            for bad in check_selectors(selectors):
                raise self.config.error(("per_file_ignores", pattern), f"per_file_ignores: {bad!r} matches no rule code")
        for code, _level in self.config.severity.items():
            if code not in known:
                raise self.config.error(("severity", code), f"severity: unknown rule code {code!r}{did_you_mean(code, known)}")
        for code, values in self.config.thresholds.items():
            cls = rules.get(code)
            if cls is None:
                raise self.config.error(("thresholds", code), f"thresholds: unknown rule code {code!r}{did_you_mean(code, known)}")
            for key, value in values.items():
                if key not in cls.thresholds:
                    names = ", ".join(sorted(cls.thresholds)) or "none"
                    raise self.config.error(("thresholds", code, key), f"thresholds.{code}: {code} has no threshold {key!r}{did_you_mean(key, cls.thresholds)} (it has: {names})")
                default = cls.thresholds[key]
                if isinstance(default, (int, float)) and not isinstance(default, bool):
                    if isinstance(value, bool) or not isinstance(value, (int, float)):
                        raise self.config.error(("thresholds", code, key), f"thresholds.{code}.{key}: expected a number, got {value!r}")
                elif type(value) is not type(default):
                    raise self.config.error(("thresholds", code, key), f"thresholds.{code}.{key}: expected {type(default).__name__}, got {value!r}")
        selector_options: tuple[tuple[str, Sequence[str]], ...] = (("--select", options.select or ()), ("--ignore", options.ignore))
        for label, given in selector_options:
            for bad in check_selectors(given):
                raise LintUsageError(f"{label} {bad}: matches no rule code{did_you_mean(bad, known)}")


class Linter:
    def __init__(self, options: Options | None = None):
        self.options = options or Options()
        self.rules = all_rules()
        self._plans: dict[Path | None, _Plan] = {}
        self._files: dict[str, Path | None] = {}
        self._configs: dict[Path | None, Config] = {}
        self._explicit = load_config(self.options.config) if self.options.config else None
        self._foreign: dict = {}  # YAML path -> llmspec.bridges.lintfile.Foreign, read when discovered
        self.errors: list[str] = []  # foreign configs that could not be read (LintResult.errors)

    def foreign(self, path: str, named: bool) -> bool:
        """Whether a YAML file is a training config of another tool to lint (see llmspec.bridges.lintfile). A
        named file that is none, or one that cannot be imported, is a usage error, recorded in ``errors`` while
        the other files are still linted; found in a folder, one that is no tool's config is skipped."""
        from llmspec.bridges.lintfile import NotAConfig, read_foreign
        from llmspec.bridges.yamlfile import BridgeError

        try:
            self._foreign[path] = read_foreign(path, self.options.tool, named, self.options.sharding)
        except NotAConfig as exc:
            if named and not self.options.skip_other_yaml:
                self.errors.append(str(exc))
            return False
        except BridgeError as exc:
            self.errors.append(str(exc))
            return False
        return True

    def config_for(self, path: str | os.PathLike) -> Config:
        """The configuration governing ``path`` (cached per folder and per config file for this run)."""
        if self._explicit is not None:
            return self._explicit
        folder = os.path.abspath(path)
        folder = folder if os.path.isdir(folder) else os.path.dirname(folder)
        if folder not in self._files:
            self._files[folder] = config_file(Path(folder))
        found = self._files[folder]
        if found not in self._configs:
            self._configs[found] = load_config(found) if found is not None else Config()
        return self._configs[found]

    def plan_for(self, spec_path: Path) -> _Plan:
        config = self.config_for(spec_path)
        key = config.path
        if key not in self._plans:
            self._plans[key] = _Plan(config, self.options, self.rules)
        return self._plans[key]

    def lint_file(self, path: str) -> list[Finding]:
        """The findings of one spec. Whatever goes wrong with one file stays with that file: an unexpected
        failure becomes its LNT003 finding, and every other file's findings are still reported."""
        plan = self.plan_for(Path(path))
        try:
            return self._lint_file(path, plan)
        except Exception as exc:  # RecursionError and MemoryError included: one file must not sink the run
            name, severity, _ = ENGINE_CODES["LNT003"]
            return [Finding("LNT003", severity, f"linting this file failed ({type(exc).__name__}: {exc}); this is a "
                            "bug in llmspec, please report it", path, 1, 1, "", None, name)]

    def _lint_file(self, path: str, plan: _Plan) -> list[Finding]:
        findings, texts = self._check(path, plan)
        ignored = self._per_file_ignores(path, plan)
        findings = [f for f in findings if f.code in UNSUPPRESSIBLE or (plan.enabled(f.code) and not matches(f.code, ignored))]
        suppressions = [s for file, text in texts.items() for s in noqa.parse(file, text)]
        kept = [f for f in findings if f.code in UNSUPPRESSIBLE]
        findings = kept + noqa.apply([f for f in findings if f.code not in UNSUPPRESSIBLE], suppressions)
        findings += self._unused(suppressions, plan, ignored)
        for f in findings:
            f.severity = plan.config.severity.get(f.code, f.severity)
        return findings

    def _check(self, path: str, plan: _Plan) -> tuple[list[Finding], dict[str, str]]:
        from llmspec.spec.loader import load_spec
        from llmspec.spec.problems import SpecError

        notes: list = []
        try:
            if path in self._foreign or is_yaml(path):
                from llmspec.bridges.lintfile import load_foreign

                if path not in self._foreign and not self.foreign(path, named=True):
                    raise ForeignConfigError(self.errors.pop() if self.errors else f"{path}:1:1: not a training config")
                spec, notes = load_foreign(self._foreign[path], self.options.overrides, plan.config)
            else:
                spec = load_spec(path, self.options.overrides, accelerators=plan.config.accelerators)
        except ForeignConfigError as exc:  # a YAML named to lint_file directly (not through discovery)
            import re

            m = re.match(r"^(.*):(\d+):(\d+): (.*)$", str(exc), re.S)
            file, line, col, message = (m[1], int(m[2]), int(m[3]), m[4]) if m else (path, 1, 1, str(exc))
            name, severity, _ = ENGINE_CODES["SPC002"]
            return [Finding("SPC002", severity, message, file, line, col, "", None, name)], {}
        except SpecError as exc:
            out = []
            for p in exc.problems:
                code = _SPC.get(p.kind, "SPC002")
                name, severity, _ = ENGINE_CODES[code]
                out.append(Finding(code, severity, p.message, p.file, p.line, p.col, p.key, None, name))
            texts = {}
            try:
                texts[path] = tomltext.read_text(path)
            except tomltext.ReadError:
                pass
            return out, texts
        ctx = Context(spec, plan.config.accelerators, {"data": self.options.data})
        out = []
        for code, message, loc in notes:
            name, severity, _ = ENGINE_CODES[code]
            out.append(Finding(code, severity, message, loc.file, loc.line, loc.col, "", None, name))
        foreign = path in self._foreign
        for rule in plan.instances:
            if ("tool-config" if foreign else "spec") not in rule.applies_to:
                continue
            try:
                out.extend(rule.check(ctx) or ())
            except Exception as exc:
                name, severity, _ = ENGINE_CODES["LNT003"]
                out.append(Finding("LNT003", severity, f"rule {rule.code} crashed on this spec ({type(exc).__name__}: "
                                   f"{exc}); this is a bug in the rule, please report it", path, 1, 1, "", None, name))
        if foreign:  # a tool's config: its fixes name the tool's keys, not the spec's
            from llmspec.bridges.fixwords import Words, translate

            try:
                words = Words(self._foreign[path].imported.tool, spec)
                fixes = [translate(f.fix, words, f.key) if f.fix else f.fix for f in out]
            except Exception:  # a fix left in spec keys is still a fix: the findings must never be lost over it
                fixes = [f.fix for f in out]
            for f, fix in zip(out, fixes, strict=True):
                f.fix = fix
        return out, dict(spec.source.texts)

    def _per_file_ignores(self, path: str, plan: _Plan) -> list[str]:
        out: list[str] = []
        for pattern, codes in plan.config.per_file_ignores.items():
            if glob_match(pattern, Path(path), plan.config.root):
                out.extend(codes)
        return out

    def _unused(self, suppressions, plan: _Plan, ignored: list[str]) -> list[Finding]:
        out: list[Finding] = []
        if not suppressions:
            return out
        enabled = {c for c in plan.codes if not matches(c, ignored)} if ignored else plan.codes
        for s, code, problem in noqa.unused(suppressions, plan.known, enabled):
            form = "noqa-file" if s.whole_file else "noqa"
            if problem == "unknown" and code is None:
                finding_code, text = "LNT002", (f"`# llmspec: {form}:` is followed by no rule code (codes look like "
                                                "SMP001), so it suppresses nothing; fix or remove it")
            elif problem == "unknown":
                finding_code, text = "LNT002", f"`# llmspec: {form}` names {code!r}, which is no rule's code; fix or remove it"
            elif code is None:
                finding_code, text = "LNT001", f"unused `# llmspec: {form}`: nothing to suppress here; remove it"
            else:
                finding_code, text = "LNT001", f"unused suppression of {code}: {code} reports nothing here; remove it from the comment"
            if finding_code in enabled and not matches(finding_code, ignored):
                name, severity, _ = ENGINE_CODES[finding_code]
                out.append(Finding(finding_code, severity, text, s.file, s.line, s.col, "", None, name))
        return out


def lint_paths(paths: Iterable[str | os.PathLike], options: Options | None = None) -> LintResult:
    """Lint every spec among ``paths`` (files, or folders searched for specs). Raises :class:`ConfigError`
    (invalid config) or :class:`LintUsageError` (bad selectors, missing paths); both mean exit 2."""
    linter = Linter(options)
    result = LintResult(rules=dict(linter.rules))
    seen: set[tuple] = set()
    files, skipped, missing = discover([os.fspath(p) for p in paths], linter.config_for, linter.foreign)
    if missing:
        raise MissingPaths(missing)
    result.skipped = skipped
    result.files = list(files)
    result.errors = linter.errors
    for findings in _run(linter, files):
        for f in findings:
            key = (f.file, f.line, f.col, f.code, f.message)
            if key not in seen:  # a base spec shared by several specs reports its findings once
                seen.add(key)
                result.findings.append(f)
    result.findings.sort(key=Finding.sort_key)
    return result


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask: a container or `taskset` limit), not the host's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


_WORKER: Linter | None = None


def _lint_chunk(paths: list[str]) -> list[list[Finding]]:
    assert _WORKER is not None
    return [_WORKER.lint_file(p) for p in paths]


def _run(linter: Linter, files: list[str]):
    """Findings per file, in file order: in this process, or in forked workers for large batches (the specs are
    independent; each worker inherits the loaded rules and configuration)."""
    import multiprocessing

    jobs = linter.options.jobs or usable_cpus()
    auto = linter.options.jobs is None
    if jobs <= 1 or len(files) < (PARALLEL_MIN if auto else 2) or "fork" not in multiprocessing.get_all_start_methods():
        for path in files:
            yield linter.lint_file(path)
        return
    global _WORKER
    _WORKER = linter
    size = max(1, -(-len(files) // (jobs * 4)))
    chunks = [files[i : i + size] for i in range(0, len(files), size)]
    try:
        with multiprocessing.get_context("fork").Pool(min(jobs, len(chunks))) as pool:
            for chunk in pool.imap(_lint_chunk, chunks):
                yield from chunk
    finally:
        _WORKER = None


__all__ = ["lint_paths", "Linter", "LintResult", "Options", "LintUsageError", "ForeignConfigError", "MissingPaths",
           "ConfigError", "unreadable"]
