"""Which rules exist: the built-in modules, listed explicitly (yamllint style), plus plugin rules.

Plugins register through the entry-point group ``llmspec.rules``. An entry point may name a :class:`Rule`
subclass, a module that defines ``RULE`` (or ``RULES``), or a list of rule classes::

    [project.entry-points."llmspec.rules"]
    org001 = "llmspec_policy.owner:OwnerRule"

A plugin that fails to import, or whose rule is malformed or reuses a code, is reported as one warning line
on stderr and skipped; the run goes on.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterable
from functools import lru_cache

from llmspec.lint.rule import SEVERITIES, Rule

BUILTIN_MODULES = (
    # architecture consistency
    "arc001_heads_divide_d_model",
    "arc002_kv_heads_divide_heads",
    "arc003_declared_parameters",
    "arc004_vocab_padding",
    "arc005_lora_targets_unmatched",
    "arc006_lora_targets_required",
    "arc007_lora_dropout_fused_experts",
    # context window
    "ctx001_train_seq_len",
    "ctx002_prompt_plus_output",
    "ctx003_serving_seq_len",
    "ctx004_kv_cache_tokens",
    # sampling
    "smp001_temperature_range",
    "smp002_greedy_ignores_sampling",
    "smp003_top_p_range",
    "smp004_top_k_vocab",
    "smp005_temperature_for_task",
    "smp006_no_stop_sequence",
    "smp007_repetition_penalty",
    # overfitting and under-training
    "ovf001_repeated_pretraining_data",
    "ovf002_chinchilla_undertraining",
    "ovf003_small_data_many_epochs",
    "ovf004_sft_epochs",
    "ovf005_learning_rate_range",
    "ovf006_no_validation",
    "ovf007_no_regularisation",
    "ovf008_warmup_exceeds_run",
    "ovf009_early_stopping_without_validation",
    "ovf010_train_eval_overlap",
    # memory
    "mem001_training_does_not_fit",
    "mem002_memory_headroom",
    "mem003_inference_does_not_fit",
    "mem004_knob_contradicts_stack",
    "mem005_knob_does_not_apply",
    "mem006_serving_requests_queue",
    # budget
    "bud001_gpu_hours",
    "bud002_cost",
    "bud003_wall_clock",
    # sweeps
    "swp001_objective_is_release_gate",
    "swp002_best_of_n_optimism",
    "swp003_objective_metric_unknown",
    # hardware
    "hw001_precision_support",
    "hw002_fp16_on_bf16_hardware",
    "hw003_tensor_parallel_heads",
    "hw004_parallel_layout",
    "hw005_sharding_single_gpu",
    # security
    "sec001_trust_remote_code",
    "sec002_pickle_weights",
    "sec003_secret_in_spec",
    "sec004_plain_http",
    "sec005_suite_code",
    # eval config
    "evl001_gate_resolution",
    "evl002_impossible_gate",
    "evl003_nothing_to_evaluate",
    "evl004_no_gates",
    "evl005_gate_metric_unknown",
    "evl006_gate_power",
)

# Codes the engine itself emits (no module: they report on the spec file or the suppressions).
ENGINE_CODES = {
    "SPC001": ("toml-syntax-error", "error", "The spec is not valid TOML."),
    "SPC002": ("spec-validation-error", "error", "The spec does not validate against the spec schema."),
    "SPC003": ("spec-unreadable", "error", "The spec, a file it extends, or its hf_config cannot be read."),
    "LNT001": ("unused-suppression", "warning", "A `# llmspec: noqa` comment suppresses nothing."),
    "LNT002": ("unknown-suppression-code", "warning", "A `# llmspec: noqa` comment names no known rule."),
    "LNT003": ("rule-crashed", "error", "A rule (or llmspec itself) failed on this spec (please report it)."),
    "BRG001": ("memory-not-checked", "info", "A training config of another tool names no GPU and none was given "
               "(project config [hardware] or --set hardware.accelerator): memory was not checked."),
    "BRG002": ("hardware-source", "info", "Which hardware the memory of a training config of another tool was "
               "checked on, and where it came from (project config or --set)."),
}

CODE_RE = re.compile(r"^[A-Z]{2,6}[0-9]{3}$")


class RegistryError(ValueError):
    pass


def _validate(cls: object, origin: str) -> type[Rule]:
    if not (isinstance(cls, type) and issubclass(cls, Rule)):
        raise RegistryError(f"{origin}: {cls!r} is not a llmspec.lint.Rule subclass")
    if not CODE_RE.match(cls.code or ""):
        raise RegistryError(f"{origin}: code {cls.code!r} is not a family prefix plus three digits (e.g. ORG001)")
    if cls.severity not in SEVERITIES:
        raise RegistryError(f"{origin}: severity {cls.severity!r} is not one of {', '.join(SEVERITIES)}")
    if not cls.name or not cls.__doc__:
        raise RegistryError(f"{origin}: {cls.code} needs a name and a docstring")
    return cls


def _rules_of(obj: object) -> list:
    if isinstance(obj, type):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return list(obj)
    for attr in ("RULES", "RULE"):
        if hasattr(obj, attr):
            return _rules_of(getattr(obj, attr))
    return [obj]


def builtin_rules() -> list[type[Rule]]:
    rules = []
    for name in BUILTIN_MODULES:
        module = importlib.import_module(f"llmspec.lint.rules.{name}")
        rules.append(_validate(module.RULE, f"llmspec.lint.rules.{name}"))
    return rules


def _plugin_rules(taken: set[str], warn) -> list[type[Rule]]:
    from importlib.metadata import entry_points

    found = []
    for ep in sorted(entry_points(group="llmspec.rules"), key=lambda e: e.name):
        origin = f"plugin {ep.name!r} ({ep.value})"
        try:
            loaded = _rules_of(ep.load())
            for cls in loaded:
                _validate(cls, origin)
                if cls.code in taken:
                    raise RegistryError(f"{origin}: code {cls.code} is already taken")
                taken.add(cls.code)
                found.append(cls)
        except Exception as exc:
            warn(f"llmspec: warning: skipping rule {origin}: {type(exc).__name__}: {exc}")
    return found


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


@lru_cache(maxsize=1)
def all_rules(plugins: bool = True) -> dict[str, type[Rule]]:
    """code -> rule class, built-ins first, then plugins (sorted by code within each)."""
    rules = {cls.code: cls for cls in builtin_rules()}
    taken = set(rules) | set(ENGINE_CODES)
    if plugins:
        for cls in _plugin_rules(taken, _stderr):
            rules[cls.code] = cls
    return rules


def known_codes() -> set[str]:
    return set(all_rules()) | set(ENGINE_CODES)


def matches(code: str, selectors: Iterable[str]) -> bool:
    """Whether a code is chosen by any selector: "ALL", the code itself, or a prefix of it ("MEM", "OVF00")."""
    return any(s == "ALL" or code.startswith(s) for s in selectors)


def check_selectors(selectors: Iterable[str]) -> list[str]:
    """Selectors that match no known code (to report as usage errors)."""
    codes = known_codes()
    return [s for s in selectors if s != "ALL" and not any(c.startswith(s) for c in codes)]
