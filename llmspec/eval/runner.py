"""``llmspec eval``: resolve the model and suites, plan, run lm-eval with one model load, score, gate, report.

Exit codes: 0 every gate passed, 1 a gate failed, 2 usage or config error, 3 infrastructure error (model
missing, out of memory, task error, timeout or interrupt - partial results are still written).
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from llmspec.eval import modelref
from llmspec.eval import plan as planning
from llmspec.eval.integrity import validate_output
from llmspec.eval.modelref import EvalError
from llmspec.eval.outcome import EvalOutcome
from llmspec.eval.suite import Suite, SuiteError, find_suite, load_suite
from llmspec.eval.trust import require_consent


@dataclass
class EvalOptions:
    model: str | None = None
    suites: tuple[str, ...] = ()
    limit: int | None = None
    device: str = "auto"
    baseline: str | None = None
    output: str = "llmspec-results"
    timeout: float | None = None
    dry_run: bool = False
    trust_remote_code: bool = False
    allow_pickle: bool = False
    trust_suite_code: bool = False
    strict: bool = False
    log: Callable[[str], None] = print
    progress: bool = True
    skip_gates: tuple[str, ...] = ()
    """Gate metrics to skip (not fail) when they cannot be evaluated: no baseline, no result, not comparable."""


class _Timeout(Exception):
    pass


@contextmanager
def _deadline(seconds: float | None):
    """SIGALRM-based timeout on the main thread (POSIX); a no-op elsewhere."""
    if not seconds or not hasattr(signal, "SIGALRM"):
        yield
        return

    def fire(signum, frame):
        raise _Timeout()

    old = signal.signal(signal.SIGALRM, fire)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def load_suites(spec, names: tuple[str, ...]) -> list[Suite]:
    spec_dir = Path(spec.source.path).parent if spec.source is not None else Path.cwd()
    wanted = list(names) or (spec.eval.suites if spec.eval else ["smoke"])
    try:
        return [load_suite(find_suite(n, spec_dir)) for n in wanted]
    except SuiteError as e:
        raise EvalError(str(e), 2) from None


def check_gates(spec, suites: list[Suite], metrics: dict, builtin=None) -> None:
    """Config errors before any work: a suite naming an unknown metric plugin, a gate naming a task no suite runs
    or a metric its task does not report (llmspec.eval.gatecheck; lm-eval's built-in tasks only with
    ``builtin``, a name -> task config resolver)."""
    from llmspec.eval.gatecheck import gate_problems

    for s in suites:
        for t in s.tasks:
            for m in t.metrics:
                if m not in metrics:
                    raise EvalError(f"{s.file}: task {t.task!r} names metric {m!r}, which no installed metric "
                                    f"plugin provides (known: {', '.join(sorted(metrics))})", 2)
    problems = gate_problems(spec, suites, builtin)
    if problems:
        p = problems[0]
        loc = spec.source.locate(p.key) if spec.source is not None else None
        where = f"{loc.file}:{loc.line}:{loc.col}: " if loc else ""
        raise EvalError(f"{where}{p.message}; {p.fix}", 2)


def _spec_hash(spec) -> str:
    from llmspec.spec.hashing import spec_hash

    return spec_hash(spec)


def _versions() -> dict[str, str | None]:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from llmspec._version import __version__

    # llmspec's own version from the package (its distribution is named llmspec-cli: a lookup of "llmspec" found
    # nothing and results.json said null)
    out: dict[str, str | None] = {"python": platform.python_version(), "llmspec": __version__}
    for dist, key in (("lm_eval", "lm_eval"), ("torch", "torch"), ("transformers", "transformers")):
        try:
            out[key] = version(dist)
        except PackageNotFoundError:
            out[key] = None
    return out


def _load_baseline(path: str | None) -> dict | None:
    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise EvalError(f"{path}: cannot read the baseline: {e.strerror or e}", 2) from None
    except json.JSONDecodeError as e:
        raise EvalError(f"{path}:{e.lineno}:{e.colno}: baseline is not valid JSON: {e.msg}", 2) from None
    if not isinstance(data, dict) or "tasks" not in data:
        raise EvalError(f"{path}: not an llmspec results.json (no 'tasks')", 2)
    return data


def run(spec, opts: EvalOptions) -> EvalOutcome:
    from llmspec.eval import lmeval, tinymodel
    from llmspec.eval.metrics import load_metrics

    log = opts.log
    if not opts.progress:  # -q: no progress bars from lm-eval, datasets or transformers, even on a terminal
        import os

        os.environ["TQDM_DISABLE"] = "1"
        os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
    lmeval.prepare_environment(tinymodel.cache_root())  # before anything imports tqdm/transformers
    validate_output(opts.output, create=not opts.dry_run)  # before any work: a bad --output is found now
    suites = load_suites(spec, opts.suites)
    consent = require_consent(suites, bool(spec.eval and spec.eval.trust_suite_code), opts.trust_suite_code, log)
    metrics = load_metrics(warn=lambda m: log(f"warning: {m}"))
    check_gates(spec, suites, metrics)
    if opts.baseline and not any(g.max_drop is not None for g in (spec.eval.gates if spec.eval else [])):
        raise EvalError(f"--baseline {opts.baseline} given, but no [[eval.gates]] sets max_drop, so nothing would "
                        "compare with it; add a gate with max_drop, or drop --baseline", 2)
    baseline = _load_baseline(opts.baseline)
    ev = spec.eval
    trust = bool(spec.model.trust_remote_code and opts.trust_remote_code)
    if spec.model.trust_remote_code and not opts.trust_remote_code:
        log("note: the spec sets trust_remote_code, but it stays off without --trust-remote-code")
    ref, _base = modelref.choose(spec, opts.model)
    if opts.dry_run and tinymodel.is_builtin(ref):
        model = modelref.ModelRef(ref, str(tinymodel.model_dir(ref[len(tinymodel.PREFIX):])), True, True)
    else:
        model = modelref.resolve(spec, opts.model, log=log)
        modelref.check_format(model, opts.allow_pickle or bool(ev and ev.allow_pickle))
    adapter = ev.adapter if ev and ev.adapter else None
    if adapter:
        spec_dir = Path(spec.source.path).parent if spec.source is not None else Path.cwd()
        a = Path(adapter).expanduser()
        adapter = str((a if a.is_absolute() else spec_dir / a).resolve()) if (spec_dir / a).exists() or a.exists() \
            else adapter
    modelref.check_adapter(adapter, opts.allow_pickle or bool(ev and ev.allow_pickle))
    gpu_mem = _gpu_memory(spec)
    include = sorted({str(tp.parent) for s in suites for t in s.tasks if (tp := s.task_path(t)) is not None})
    task_names = [t.task for s in suites for t in s.tasks]
    needs_builtin = any(t.path is None for s in suites for t in s.tasks)
    if opts.dry_run:
        p = planning.make_plan(spec, model.location, device=opts.device, probe=lambda: "cpu", adapter=adapter,
                               trust_remote_code=trust, gpu_memory=gpu_mem)
        tm = lmeval.task_manager(include, needs_builtin)
        missing = lmeval.unknown_tasks(tm, task_names)
        if missing:
            raise EvalError(f"unknown lm-eval task(s): {', '.join(missing)} (not in lm-eval "
                            f"{_versions()['lm_eval']} nor in the suites' task YAMLs)", 2)
        if needs_builtin:  # built-in tasks' metrics, from lm-eval's own index (no dataset is loaded)
            check_gates(spec, suites, metrics, builtin=lambda name: _index_config(tm, name))
        limit = opts.limit or (ev.limit if ev else None)
        text = planning.describe(p, task_names, include, str(Path(opts.output) / "lm-eval"), limit=limit,
                                 builtins=needs_builtin,
                                 num_fewshot=ev.num_fewshot if ev else None, seed=ev.seed if ev else 1234,
                                 chat_template=bool(ev and ev.chat_template))
        from llmspec.eval.gateplan import describe as describe_gates
        from llmspec.eval.gateplan import plan_gates

        plans = plan_gates(spec, suites)
        if plans:
            text += ("\nbaseline gates (Holm's first level alpha/m; 80% power assuming values in [0, 1] and the "
                     "unpaired variance 2 sigma^2/n):\n" + "\n".join(describe_gates(plans, {g.metric: g.drop_unit
                                                                                     for g in ev.gates})))
        return EvalOutcome(0, "dry run: plan printed", {"plan": text})
    from llmspec.eval import execute
    from llmspec.eval.context import RunContext

    with lmeval.suite_guards(consent), lmeval.quiet_stderr(not opts.progress):
        return execute.execute(RunContext(
            spec=spec, opts=opts, suites=suites, metrics=metrics, model=model, adapter=adapter,
            trust_remote_code=trust, gpu_memory=gpu_mem, include=include, needs_builtin=needs_builtin,
            baseline=baseline, spec_hash=_spec_hash(spec), versions=_versions(), deadline=_deadline,
            timeout_exc=_Timeout, skip_gates=frozenset(opts.skip_gates)))


def _gpu_memory(spec) -> int | None:
    hw = spec.hardware
    if hw is None:
        return None
    if hw.memory:
        return hw.memory
    try:
        from llmspec.catalog import resolve

        return resolve(hw.accelerator, spec.source.accelerators if spec.source else None).memory_bytes
    except Exception:
        return None


def _index_config(tm, name: str) -> dict | None:
    entry = tm.task_index.get(name)
    return dict(entry.cfg) if entry is not None and isinstance(getattr(entry, "cfg", None), dict) else None
