"""The glue to lm-eval 0.4.13's Python API. Everything here imports torch/lm_eval lazily, inside functions.

Facts this relies on (measured, see /work/shared/NOTES.md): ``simple_evaluate(model=<LM instance>)`` reuses a
loaded model; ``TaskManager(include_path=..., include_defaults=False)`` skips indexing ~14,000 built-in YAMLs;
metric keys are ``"<metric>,<filter>"``; lm-eval's response cache keys on the request only, so the cache file
is keyed by a hash of the model files here; ``HF_HOME``/``LM_HARNESS_CACHE_PATH`` default into site-packages
otherwise.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llmspec.eval.modelref import EvalError

OFFLINE_MARKERS = ("offline", "connectionerror", "couldn't reach", "could not reach", "localentrynotfound",
                   "failed to resolve", "name resolution", "max retries exceeded", "couldn't find a dataset",
                   "network is unreachable", "temporary failure")


def prepare_environment(cache: Path) -> None:
    """Keep caches out of site-packages, telemetry off, and lm-eval's console chatter down."""
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("LM_HARNESS_CACHE_PATH", str(cache / "lm-eval-requests"))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not sys.stderr.isatty():
        os.environ.setdefault("TQDM_DISABLE", "1")
    for name in ("lm_eval", "lm-eval", "transformers", "datasets", "accelerate"):
        logging.getLogger(name).setLevel(logging.ERROR)


def probe_device() -> str:
    """cuda if present, else mps, else cpu."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def quiet_git_hash() -> None:
    """lm-eval shells out to git for provenance and prints 'fatal: not a git repository' outside one."""
    import lm_eval.evaluator as ev

    ev.get_git_commit_hash = lambda: None


@contextmanager
def refuse_pickle(name: str, allow: bool):
    """While the model loads, any torch.load (what transformers and PEFT use for every non-safetensors file)
    raises a one-line refusal instead of unpickling: the last line of defence behind modelref.check_format,
    and the only one for hub files that are not cached yet."""
    import torch

    if allow:
        yield
        return
    real = torch.load

    def refused(f, *args, **kwargs):
        raise EvalError(f"{name}: refusing to unpickle {f} (pickle can run arbitrary code when loaded): convert "
                        f"it to safetensors, or allow pickle with --allow-pickle or [eval].allow_pickle = true", 2)

    torch.load = refused
    try:
        yield
    finally:
        torch.load = real


@contextmanager
def suite_guards(consent: bool):
    """Without consent to suite code: prompt templates render in a sandboxed Jinja2 environment, and a metric
    lm-eval does not register is refused instead of fetched with ``evaluate.load``. lm-eval 0.4.13 renders every
    template through the module-level ``env`` of lm_eval/utils.py (``apply_template`` reads it at call time),
    and lm_eval/api/task.py imports ``get_metric`` from lm_eval/api/registry.py by name."""
    if consent:
        yield
        return
    import lm_eval.api.metrics  # noqa: F401  (fills the metric registry)
    import lm_eval.api.registry as registry
    import lm_eval.api.task as task_mod
    import lm_eval.utils as utils
    from jinja2 import BaseLoader, StrictUndefined
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import SandboxedEnvironment

    class Sandbox(SandboxedEnvironment):
        def unsafe_undefined(self, obj, attribute):  # raise at once (a StrictUndefined would hide the reason)
            raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")

    sandbox = Sandbox(loader=BaseLoader, undefined=StrictUndefined, keep_trailing_newline=True)
    sandbox.filters.update(utils.env.filters)
    real_env, real_get_metric = utils.env, task_mod.get_metric

    def get_metric(name, hf_evaluate_metric: bool = False):
        if hf_evaluate_metric or name not in registry.metric_registry:
            raise EvalError(f"metric {name!r} is not an lm-eval metric, and lm-eval would fetch and run it with "
                            f"evaluate.load: {trust_hint()}", 2)
        return real_get_metric(name, hf_evaluate_metric)

    utils.env, task_mod.get_metric = sandbox, get_metric
    try:
        yield
    finally:
        utils.env, task_mod.get_metric = real_env, real_get_metric


def trust_hint() -> str:
    from llmspec.eval.trust import CONSENT

    return CONSENT


def make_lm(plan, *, threads: int | None = None, allow_pickle: bool = False):
    """Instantiate lm-eval's model once; every suite of the run reuses it. Without allow_pickle, transformers
    gets use_safetensors=True, so it raises instead of falling back to pickle weights."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    args = dict(plan.model_args)
    name = args.get("pretrained")
    if not allow_pickle and plan.kind != "vllm":
        args["use_safetensors"] = True
    try:
        with refuse_pickle(str(name), allow_pickle):
            if plan.kind == "vllm":
                from lm_eval.models.vllm_causallms import VLLM

                return VLLM(**args, batch_size=plan.batch_size)
            from lm_eval.models.huggingface import HFLM

            return HFLM(**args, batch_size=plan.batch_size)
    except torch.OutOfMemoryError:
        raise EvalError(f"out of memory loading {name} ({plan.dtype} on {plan.device}); try a smaller "
                        f"[inference].precision, fewer replicas or a bigger accelerator", 3) from None
    except ModuleNotFoundError as e:
        raise EvalError(f"cannot load {name}: {e}", 3) from None
    except (OSError, ValueError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if not allow_pickle and "safetensors" in first and ("no file named" in first or "does not appear" in first):
            raise EvalError(f"{name}: no safetensors weights (model.safetensors or model.safetensors.index.json), "
                            f"and pickle weights are refused: convert them to safetensors, or allow pickle with "
                            f"--allow-pickle or [eval].allow_pickle = true", 2) from None
        raise EvalError(f"cannot load model {name}: {first}", 3) from None
    except pickle.UnpicklingError as e:  # transformers' own weights_only=True refusal (with --allow-pickle)
        raise EvalError(f"cannot load model {name}: torch refused to unpickle its weights ({(str(e).strip().splitlines() or ['?'])[0]})",
                        3) from None


def task_manager(include_paths: list[str], builtins: bool):
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=include_paths or None, include_defaults=builtins)


def unknown_tasks(tm, names: list[str]) -> list[str]:
    known = set(tm.all_tasks)
    return [n for n in names if n not in known]


def yaml_generation_kwargs(path: Path | None) -> dict | None:
    """The task YAML's own generation_kwargs (None when it sets none): they win over [sampling]."""
    if path is None:
        return None
    from lm_eval.tasks._yaml_loader import load_yaml

    cfg = load_yaml(path, resolve_func=False)
    return cfg.get("generation_kwargs")


def sampling_gen_kwargs(sampling) -> dict[str, Any]:
    """[sampling] as lm-eval/HF generate() arguments (temperature 0 = greedy, do_sample off)."""
    if sampling is None:
        return {}
    out: dict[str, Any] = {"max_gen_toks": sampling.max_new_tokens}
    if sampling.temperature == 0:
        out["do_sample"] = False
        out["temperature"] = 0.0
    else:
        out.update(do_sample=True, temperature=sampling.temperature)
        for key in ("top_p", "top_k", "min_p"):
            if getattr(sampling, key) is not None:
                out[key] = getattr(sampling, key)
    if sampling.repetition_penalty is not None:
        out["repetition_penalty"] = sampling.repetition_penalty
    if sampling.stop:
        out["until"] = list(sampling.stop)
    return out


def run_task(lm, tm, task: str, *, limit, num_fewshot, gen_kwargs, chat_template: bool, seed: int,
             cache: str | None, offline: bool) -> dict:
    """One task through simple_evaluate; turns a dataset download failure into a one-line error."""
    import lm_eval

    if cache:
        from llmspec.eval.integrity import repair_response_cache

        repair_response_cache(cache, warn=lambda m: print(m, file=sys.stderr))
    try:
        out = lm_eval.simple_evaluate(
            model=lm, tasks=[task], task_manager=tm, limit=limit, num_fewshot=num_fewshot,
            gen_kwargs=gen_kwargs or None, apply_chat_template=chat_template, log_samples=True,
            bootstrap_iters=0, use_cache=cache, random_seed=seed, numpy_random_seed=seed,
            torch_random_seed=seed, fewshot_random_seed=seed,
        )
    except (KeyboardInterrupt, EvalError):
        raise
    except Exception as e:
        if type(e).__name__ == "SecurityError":  # jinja2.sandbox refused a template (suite_guards)
            raise EvalError(f"task {task!r}: a prompt template reached Python internals, which the sandbox refused "
                            f"({e}); {trust_hint()}", 2) from None
        text = f"{type(e).__name__}: {e}"
        if not offline and any(m in text.lower() for m in OFFLINE_MARKERS):
            raise EvalError(
                f"task {task!r} needs to download its dataset and the dataset hub is unreachable (or "
                f"HF_DATASETS_OFFLINE=1): run it once with network access to fill the datasets cache, or use an "
                f"offline suite such as 'smoke'", 3) from None
        import torch

        if isinstance(e, torch.OutOfMemoryError):
            raise EvalError(f"task {task!r}: out of memory; lower [eval].batch_size", 3) from None
        first = text.strip().splitlines()[0]
        raise EvalError(f"task {task!r} failed: {first[:300]}", 3) from None
    if out is None:  # non-zero rank of a data-parallel run
        return {}
    return out


def token_count(lm, text: str) -> int:
    """Tokens lm-eval scores for a rolling loglikelihood: every token of the text (lm_eval HFLM.tok_encode)."""
    return len(lm.tok_encode(text))


def config_hash(config: dict, yaml_path: Path | None) -> str:
    """Hash of the task config that shapes prompts and scoring; the config's own file path is replaced by
    the content hash of the YAML's directory data files (so the same suite on another machine matches)."""
    cfg = json.loads(json.dumps(config, default=str, sort_keys=True))
    meta = cfg.get("metadata") or {}
    meta.pop("config_source", None)
    if yaml_path is not None:
        h = hashlib.sha256()
        for p in sorted(yaml_path.parent.iterdir()):
            if p.suffix in (".jsonl", ".json", ".csv", ".txt", ".parquet", ".py", ".yaml"):
                h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
        meta["files_sha256"] = h.hexdigest()
    cfg["metadata"] = meta
    text = json.dumps(cfg, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


# a tqdm progress line ("Running loglikelihood requests:  50%|#####     | 4/8 [00:00<00:00, 63.02it/s]"): lm-eval
# passes tqdm an explicit `disable=`, which overrides TQDM_DISABLE, so -q cannot switch its bars off at the source
_TQDM_LINE = re.compile(r"\d+%\|.*\| *[\d.]+[kMG]?/[\d.?]+[kMG]? \[")


@contextmanager
def quiet_stderr(enabled: bool):
    """-q: whatever the libraries write to file descriptor 2 while the suites run is held back; afterwards every line
    that is neither blank nor a tqdm progress line is written out, so nothing with content is lost."""
    if not enabled:
        yield
        return
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [line for line in held.read().decode(errors="replace").splitlines()
                    if line.strip(" \r\t") and not _TQDM_LINE.search(line)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")
