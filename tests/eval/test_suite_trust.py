"""Suite code needs consent (issue 11, finding 5): a user suite's !function, utils module, templates and metric
fallbacks run only with [eval].trust_suite_code = true and --trust-suite-code. Each test's code would write a
marker if it ran; the marker must not appear without consent."""

from __future__ import annotations

import json

import pytest
from eval_helpers import run_llmspec
from test_eval_exit_codes import one_line, write_spec

pytestmark = pytest.mark.eval


def _suite(tmp_path, yaml_text: str, *, utils: str | None = None):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "data.jsonl").write_text(json.dumps({"question": "2+2", "answer": " 4"}) + "\n")
    (d / "t.yaml").write_text(yaml_text.replace("DATA", str(d / "data.jsonl")))
    if utils is not None:
        (d / "mine_utils.py").write_text(utils)
    suite = tmp_path / "mine.toml"
    suite.write_text('name = "mine"\n[[tasks]]\ntask = "mine_t"\npath = "mine/t.yaml"\n')
    return suite


PLAIN = """task: mine_t
dataset_path: json
dataset_kwargs:
  data_files: DATA
test_split: train
output_type: loglikelihood
doc_to_text: "{template}"
doc_to_target: answer
metric_list:
  - metric: acc
"""


def _function_suite(tmp_path, marker):
    utils = (f"open({str(marker)!r}, 'w').write('ran')\n"
             "def process(dataset):\n    return dataset\n")
    return _suite(tmp_path, PLAIN.format(template="Q: {{question}}") + "process_docs: !function mine_utils.process\n",
                  utils=utils)


def test_function_tag_is_refused_before_lm_eval_parses_the_yaml(tmp_path, tiny_models):
    marker = tmp_path / "marker"
    suite = _function_suite(tmp_path, marker)
    spec = write_spec(tmp_path, suites=f'"{suite}"')
    run = run_llmspec("eval", str(spec), "-q", "--limit", "1", out=tmp_path / "o")
    line = one_line(run)
    assert not marker.exists(), "the suite's module was imported"
    assert run.code == 2, run.stdout + run.stderr
    assert f"{tmp_path / 'mine' / 't.yaml'}:11:15: !function mine_utils.process runs Python (mine_utils.py" in line
    assert "[eval].trust_suite_code = true and --trust-suite-code" in line
    dry = run_llmspec("eval", str(spec), "--dry-run")
    assert dry.code == 2 and not marker.exists()


def test_spec_flag_alone_is_not_consent_and_both_run_the_code(tmp_path, tiny_models):
    marker = tmp_path / "marker"
    suite = _function_suite(tmp_path, marker)
    spec = write_spec(tmp_path, suites=f'"{suite}"', extra="trust_suite_code = true")
    run = run_llmspec("eval", str(spec), "-q", "--limit", "1", out=tmp_path / "o")
    assert run.code == 2 and not marker.exists()
    assert "the spec consents, but suite code also needs --trust-suite-code" in one_line(run)
    run = run_llmspec("eval", str(spec), "-q", "--limit", "1", "--trust-suite-code", out=tmp_path / "o2")
    assert run.code == 0, run.stdout + run.stderr
    assert marker.read_text() == "ran"


# No "__" in the text, so only the sandbox can stop it: attr() with a computed name reaches os through
# jinja2.utils' globals, as {{ cycler.__init__.__globals__.os.getcwd() }} did in the issue.
ESCAPE = ("{{{{ (cycler|attr('_'~'_init_'~'_')|attr('_'~'_globals_'~'_'))['os'].mkdir('{marker}') }}}}")


def test_template_renders_sandboxed_without_consent(tmp_path, tiny_models):
    marker = tmp_path / "made-by-template"
    suite = _suite(tmp_path, PLAIN.format(template=ESCAPE.format(marker=marker)))
    spec = write_spec(tmp_path, suites=f'"{suite}"')
    run = run_llmspec("eval", str(spec), "-q", "--limit", "1", out=tmp_path / "o")
    assert not marker.exists(), "the template ran Python"
    assert run.code == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    assert "a prompt template reached Python internals, which the sandbox refused" in run.stdout
    assert (tmp_path / "o" / "results.json").is_file()


def test_template_with_dunder_is_refused_up_front(tmp_path, tiny_models):
    suite = _suite(tmp_path, PLAIN.format(template="{{ cycler.__init__.__globals__.os.getcwd() }}"))
    spec = write_spec(tmp_path, suites=f'"{suite}"')
    run = run_llmspec("eval", str(spec), "-q", out=tmp_path / "o")
    assert run.code == 2 and "t.yaml:7:14: a template reaches Python internals" in one_line(run)


def test_unknown_metric_is_refused_not_fetched(tmp_path, tiny_models):
    text = PLAIN.format(template="Q: {{question}}").replace("metric: acc", "metric: my_hub_metric")
    suite = _suite(tmp_path, text)
    spec = write_spec(tmp_path, suites=f'"{suite}"')
    run = run_llmspec("eval", str(spec), "-q", out=tmp_path / "o")
    assert run.code == 2
    assert "metric 'my_hub_metric' is not an lm-eval metric, so lm-eval would fetch and run it" in one_line(run)


def test_runtime_guard_refuses_the_evaluate_fallback():
    """Behind the static check: lm-eval's own get_metric (as ConfigurableTask calls it) refuses the fallback."""
    pytest.importorskip("lm_eval")
    import lm_eval.api.task as task_mod

    from llmspec.eval import lmeval
    from llmspec.eval.modelref import EvalError

    with lmeval.suite_guards(consent=False):
        assert callable(task_mod.get_metric("acc"))
        with pytest.raises(EvalError, match="'my_hub_metric' is not an lm-eval metric"):
            task_mod.get_metric("my_hub_metric")
        with pytest.raises(EvalError):
            task_mod.get_metric("acc", True)  # hf_evaluate: true
    import lm_eval.utils as utils
    from jinja2.sandbox import SandboxedEnvironment

    assert not isinstance(utils.env, SandboxedEnvironment), "the guards are undone after the run"


def test_known_metrics_match_lm_eval_registry():
    pytest.importorskip("lm_eval")
    import lm_eval.api.metrics  # noqa: F401
    import lm_eval.api.registry as registry

    from llmspec.eval.trust import LM_EVAL_METRICS

    assert set(registry.metric_registry) == LM_EVAL_METRICS


def test_builtin_suite_yamls_are_trusted_also_from_a_user_suite(tmp_path):
    from llmspec.eval.suite import load_suite
    from llmspec.eval.trust import suite_code
    from llmspec.resources import data_dir

    yaml = data_dir("suites") / "smoke" / "kb_qa.yaml"
    suite = tmp_path / "s.toml"
    suite.write_text(f'name = "s"\n[[tasks]]\ntask = "kb_qa"\npath = "{yaml}"\n')
    assert "!function" in yaml.read_text()
    assert suite_code(load_suite(suite)) == []
