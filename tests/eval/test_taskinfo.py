"""The safe task-YAML reader and lm-eval's defaults, pinned against the installed lm-eval."""

from __future__ import annotations

import pytest
from eval_helpers import ROOT, run_llmspec

from llmspec.eval import taskinfo
from llmspec.eval.metrics.builtin import default_metrics


def test_default_metric_tables_match_the_installed_lm_eval():
    pytest.importorskip("lm_eval.api.metrics")  # registers lm-eval's metrics into its registry
    import lm_eval.api.registry as registry
    assert {k: tuple(v) for k, v in registry.DEFAULT_METRIC_REGISTRY.items()} == taskinfo.LMEVAL_DEFAULT_METRICS
    assert dict(registry.HIGHER_IS_BETTER_REGISTRY) == taskinfo.LMEVAL_HIGHER_IS_BETTER
    aggs = {k: getattr(v, "__name__", v) for k, v in registry.METRIC_AGGREGATION_REGISTRY.items()}
    assert aggs == taskinfo.LMEVAL_AGGREGATION


def test_safe_reader_leaves_functions_unexecuted_and_resolves_include(tmp_path):
    (tmp_path / "boom.py").write_text("raise SystemExit('imported!')\n")
    (tmp_path / "base.yaml").write_text("output_type: multiple_choice\nmetric_list:\n  - metric: !function boom.score\n"
                                        "    aggregation: mean\n    higher_is_better: false\n")
    (tmp_path / "task.yaml").write_text("include: base.yaml\ntask: t\nfilter_list:\n  - name: strict\n  - name: flex\n")
    cfg = taskinfo.read_task(tmp_path / "task.yaml")
    assert cfg["task"] == "t" and cfg["output_type"] == "multiple_choice"
    assert isinstance(cfg["metric_list"][0]["metric"], taskinfo.FunctionRef)
    assert taskinfo.lmeval_metrics(cfg) == {"score,strict": False, "score,flex": False}


def test_include_cycle_is_one_line(tmp_path):
    (tmp_path / "a.yaml").write_text("include: b.yaml\n")
    (tmp_path / "b.yaml").write_text("include: a.yaml\n")
    with pytest.raises(taskinfo.TaskYamlError, match="include cycle"):
        taskinfo.read_task(tmp_path / "a.yaml")


def test_the_smoke_task_yamls_read_as_lm_eval_reads_them():
    """Independent check: lm-eval's own loader gives the same metric names for every smoke task."""
    loader = pytest.importorskip("lm_eval.tasks._yaml_loader")
    for path in sorted((ROOT / "suites" / "smoke").glob("*.yaml")):
        theirs = loader.load_yaml(path, resolve_func=False)
        ours = taskinfo.read_task(path)
        assert [taskinfo.metric_name(e) for e in ours.get("metric_list", [])] == \
               [str(e["metric"]).rsplit(".", 1)[-1] for e in theirs.get("metric_list", [])]
        assert ours["output_type"] == theirs["output_type"]


def test_multiple_choice_defaults_do_not_add_macro_f1():
    """Old code: a suite task without `metrics =` scored every metric of its output type, macro_f1 included
    (macro-F1 over answer positions means nothing for multiple choice)."""
    assert default_metrics("multiple_choice") == ["acc", "acc_norm"]
    assert "macro_f1" not in default_metrics("generate_until")


def test_check_finds_an_unknown_gate_metric(tmp_path):
    run = run_llmspec("check", "examples/tiny-base.toml", "--set", 'eval.gates=[{metric="kb_qa/f2", min=0.1}]')
    assert run.code == 2
    assert run.stdout.strip() == ("examples/tiny-base.toml:54:1: gate 'kb_qa/f2': task 'kb_qa' does not report metric "
                                  "'f2'; did you mean 'f1'? kb_qa reports: f1, token_f1, token_f1,none")


CORE_PROBE = """
import importlib.util, sys
HIDDEN = ("yaml", "numpy", "scipy", "lm_eval", "torch", "transformers")
real = importlib.util.find_spec
importlib.util.find_spec = lambda name, package=None: None if name.split(".")[0] in HIDDEN else real(name, package)
for m in HIDDEN:
    sys.modules[m] = None  # importing it raises ImportError, as on a core install without the eval extra
from llmspec.cli import cli
for args in (["check", *sys.argv[1:]], ["lint", *sys.argv[1:]]):
    try:
        cli.main(args, standalone_mode=False)
    except SystemExit as e:
        print("exit", e.code)
"""


def test_check_and_lint_work_on_a_core_install_without_yaml_or_numpy(tmp_path):
    """The gate checks need PyYAML and numpy (eval extra); without them check and lint still run."""
    import subprocess
    import sys

    probe = tmp_path / "probe.py"
    probe.write_text(CORE_PROBE)
    proc = subprocess.run([sys.executable, str(probe), "examples/tiny-base.toml", "examples/llama2-7b-lora-a100.toml"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    assert "examples/tiny-base.toml: ok" in proc.stdout and "exit" not in proc.stdout.split("Found")[0]
