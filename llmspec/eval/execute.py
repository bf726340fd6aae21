"""The real run (not the dry run): one model load, every task of every suite, scoring, gates and reports.

Partial results survive: results.json is rewritten after every task, and a timeout, Ctrl-C or task failure
still ends with the gates judged on what finished and all three reports written (exit 3).
"""

from __future__ import annotations

import hashlib
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llmspec.eval import modelref
from llmspec.eval import plan as planning
from llmspec.eval.context import RunContext
from llmspec.eval.modelref import EvalError
from llmspec.eval.outcome import INFRA, EvalOutcome, verdict
from llmspec.eval.results_schema import SCHEMA_VERSION


def _progress(enabled: bool, total: int):
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]eval[/bold] {task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=Console(stderr=True), transient=True)


@contextmanager
def _cwd(task_yaml: Path | None):
    """Run a local task from its YAML's folder: lm-eval (datasets) resolves relative ``data_files`` against the
    working directory, not the YAML (/work/shared/NOTES.md), so a user's suite would only work from one place."""
    if task_yaml is None:
        yield
        return
    old = os.getcwd()
    os.chdir(task_yaml.parent)
    try:
        yield
    finally:
        os.chdir(old)


def _gen_kwargs(spec, suite, task):
    """(kwargs to pass, where they come from): the suite's, else the task YAML's own, else [sampling]."""
    from llmspec.eval import lmeval

    if task.generation_kwargs:
        return dict(task.generation_kwargs), "suite"
    own = lmeval.yaml_generation_kwargs(suite.task_path(task))
    if own:
        return None, "task"
    if spec.sampling is not None:
        return lmeval.sampling_gen_kwargs(spec.sampling), "sampling"
    return None, "lm-eval default"


def _score_task(lm, out: dict, name: str, wanted: list[str], metrics: dict, seed: int) -> tuple[dict, list]:
    from llmspec.eval import lmeval
    from llmspec.eval.metrics import doc_hash, score
    from llmspec.eval.metrics.builtin import default_metrics

    samples = out["samples"][name]
    otype = out["configs"][name]["output_type"]
    for s in samples:
        if otype == "loglikelihood_rolling" and isinstance(s.get("target"), str):
            s["token_count"] = lmeval.token_count(lm, s["target"])
        s["llmspec_doc_hash"] = doc_hash(s)
    names = wanted or default_metrics(otype)
    raw = out["results"][name]
    scored = {}
    for metric_name in names:
        metric = metrics[metric_name]
        types = getattr(metric, "output_types", ()) or ()
        if types and otype not in types:
            raise EvalError(f"metric {metric_name!r} reads {'/'.join(types)} outputs; task {name!r} is {otype}", 2)
        value = score(metric, samples, seed=seed).to_json()
        stderr = raw.get(f"{metric_name}_stderr,none")
        value["stderr"] = stderr if isinstance(stderr, (int, float)) else None
        scored[metric_name] = value
    from llmspec.eval.native import native_metrics

    for key, entry in native_metrics(out, name, samples).items():
        scored.setdefault(key, entry)
    return scored, samples


def execute(ctx: RunContext) -> EvalOutcome:
    from llmspec.eval import lmeval, outputs, tinymodel
    from llmspec.eval.gates import evaluate_gates

    spec, opts, suites, metrics, model, adapter = ctx.spec, ctx.opts, ctx.suites, ctx.metrics, ctx.model, ctx.adapter
    trust, versions, baseline = ctx.trust_remote_code, ctx.versions, ctx.baseline
    ev, log, out_dir = spec.eval, opts.log, Path(opts.output).resolve()
    cache = tinymodel.cache_root()
    plan = planning.make_plan(spec, model.location, device=opts.device, probe=lmeval.probe_device,
                              adapter=adapter, trust_remote_code=trust, gpu_memory=ctx.gpu_memory)
    for note in plan.notes:
        log(f"note: {note}")
    if plan.device == "cuda" and lmeval.gpu_count() < plan.gpus:
        raise EvalError(f"the {plan.kind} plan needs {plan.gpus} CUDA GPU(s), found {lmeval.gpu_count()}; run on "
                        f"a GPU host, or evaluate here with --device cpu", 3)
    if not plan.in_process:
        raise EvalError("data-parallel plans run under accelerate: print the command with --dry-run and run it "
                        "on the GPU host", 3)
    t0 = time.time()
    model_hash = modelref.hash_files(model.location, model.local)
    key_parts = [model_hash, adapter and modelref.hash_files(adapter, Path(adapter).exists()),
                 plan.answer_identity(), bool(ev and ev.chat_template)]
    cache_key = hashlib.sha256(repr(key_parts).encode()).hexdigest()[:16]
    seed = ev.seed if ev else 1234
    chat = bool(ev and ev.chat_template)
    results: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION, "verdict": "INCOMPLETE",
        "run": {"spec": str(spec.source.path) if spec.source is not None else None, "spec_hash": ctx.spec_hash,
                "model": model.ref, "model_path": model.location if model.local else None,
                "model_hash": model_hash, "adapter": adapter, "versions": versions, "device": plan.device,
                "dtype": plan.dtype, "seed": seed, "batch_size": plan.batch_size, "chat_template": chat,
                "num_fewshot": ev.num_fewshot if ev else None, "plan": plan.kind,
                "trust_remote_code": trust, "limit": opts.limit or (ev.limit if ev else None),
                "suites": [s.name for s in suites], "timings": {}},
        "tasks": {}, "gates": [],
    }
    lmeval.quiet_git_hash()
    threads = 1 if model.builtin and plan.device == "cpu" else None  # one thread: 10-50x faster (NOTES.md)
    lm = lmeval.make_lm(plan, threads=threads, allow_pickle=opts.allow_pickle or bool(ev and ev.allow_pickle))
    results["run"]["timings"]["load_s"] = round(time.time() - t0, 3)
    tm = lmeval.task_manager(ctx.include, ctx.needs_builtin)
    results["run"]["timings"]["tasks_index_s"] = round(time.time() - t0 - results["run"]["timings"]["load_s"], 3)
    incomplete, failure = None, None
    all_tasks = [(s, t) for s in suites for t in s.tasks]
    progress = _progress(opts.progress, len(all_tasks))
    bar = progress.add_task("", total=len(all_tasks)) if progress else None
    try:
        if progress:
            progress.start()
        with ctx.deadline(opts.timeout):
            for suite, task in all_tasks:
                if progress:
                    progress.update(bar, description=f"{suite.name}/{task.task}")
                t1 = time.time()
                limit = opts.limit or (ev.limit if ev and ev.limit else None) or task.limit
                fewshot = ev.num_fewshot if ev and ev.num_fewshot is not None else task.num_fewshot
                gen, gen_source = _gen_kwargs(spec, suite, task)
                with _cwd(suite.task_path(task)):  # relative data_files resolve from the task YAML
                    lm_out = lmeval.run_task(lm, tm, task.task, limit=limit, num_fewshot=fewshot, gen_kwargs=gen,
                                             chat_template=chat, seed=seed,
                                             cache=str(cache / "lm-eval" / cache_key / "responses"),
                                             offline=suite.is_offline(task))
                if not lm_out:
                    continue
                scored, samples = _score_task(lm, lm_out, task.task, task.metrics, metrics, seed)
                outputs.write_samples(out_dir, task.task, samples)
                config = lm_out["configs"][task.task]
                entry = {
                    "suite": suite.name,
                    "provenance": {
                        "task_version": str(lm_out["versions"].get(task.task)),
                        "config_hash": lmeval.config_hash(config, suite.task_path(task)),
                        "num_fewshot": lm_out["n-shot"].get(task.task), "limit": limit,
                        "lm_eval_version": versions.get("lm_eval"), "output_type": config.get("output_type"),
                        "filter": "none", "n_samples": lm_out.get("n-samples", {}).get(task.task)},
                    "metrics": scored,
                    "lm_eval": {k: v for k, v in lm_out["results"][task.task].items() if "," in k},
                    "samples_file": f"samples/{task.task}.jsonl",
                    "timing_s": round(time.time() - t1, 3),
                }
                if config.get("output_type") == "generate_until":
                    entry["generation"] = {"source": gen_source, "kwargs": config.get("generation_kwargs")}
                results["tasks"][task.task] = entry
                outputs.write_results(out_dir, results)  # partial results survive an interruption
                if progress:
                    progress.advance(bar)
    except ctx.timeout_exc:
        incomplete = f"timed out after {opts.timeout:g} s"
    except KeyboardInterrupt:
        incomplete = "interrupted"
    except EvalError as e:
        incomplete, failure = str(e), e
    finally:
        if progress:
            progress.stop()
    results["run"]["timings"]["total_s"] = round(time.time() - t0, 3)
    if incomplete:
        done = len(results["tasks"])
        incomplete += f" ({done} of {len(all_tasks)} tasks finished; partial results kept)"
        results["run"]["incomplete"] = incomplete
    gates = list(ev.gates) if ev else []
    if opts.strict:  # strict: a baseline gate passes only on proven non-inferiority within max_drop
        gates = [g.model_copy(update={"mode": "non_inferiority"}) if g.max_drop is not None else g for g in gates]
    report = evaluate_gates(gates, results, baseline, ev.alpha if ev else 0.05, metrics=metrics, seed=seed,
                            skip=ctx.skip_gates)
    results["gates"] = report.to_json()
    for w in report.warnings:
        log(f"warning: {w}")
    if incomplete:
        code, reason = (failure.exit_code if failure else INFRA), incomplete
    elif report.exit_code == 2:
        code, reason = 2, report.errors[0].reason
    elif report.exit_code == 1:
        failed = [r for r in report.results if r.status == "fail"]
        code, reason = 1, f"{len(failed)} of {len(report.results)} gate checks failed; first: {failed[0].metric}: " \
                          f"{failed[0].reason}"
    else:
        code, reason = 0, f"all {len(report.results)} gate checks passed" if report.results else "no gates to check"
    paths = outputs.write_reports(out_dir, results, verdict(code))
    return EvalOutcome(code, reason, results, paths)
