"""Run options on the real CPU path: [sampling] for generation tasks without their own generation arguments,
suite-level generation arguments, a PEFT adapter, and trust_remote_code needing both the spec and the flag."""

from __future__ import annotations

import shutil

import pytest
from eval_helpers import ROOT, run_llmspec
from test_eval_exit_codes import write_spec

pytestmark = [pytest.mark.eval, pytest.mark.slow]

SAMPLING = '[sampling]\ntemperature = 0.0\nmax_new_tokens = 5\nstop = ["\\n"]\n'


# the suite carries a copy of smoke_utils.py (code outside llmspec's own suites): it runs with consent only
TRUST = "trust_suite_code = true"


def _qa_suite_without_generation_kwargs(tmp_path, suite_extra=""):
    d = tmp_path / "qa"
    d.mkdir()
    for name in ("smoke_utils.py", "kb_qa.jsonl"):
        shutil.copy(ROOT / "suites" / "smoke" / name, d / name)
    text = (ROOT / "suites" / "smoke" / "kb_qa.yaml").read_text()
    head, rest = text.split("generation_kwargs:", 1)
    rest = rest.split("metric_list:", 1)[1]
    (d / "kb_qa.yaml").write_text(head + "metric_list:" + rest)
    suite = tmp_path / "qa.toml"
    suite.write_text(f'name = "qa"\n[[tasks]]\ntask = "kb_qa"\npath = "qa/kb_qa.yaml"\nmetrics = ["f1"]\n'
                     f"{suite_extra}")
    return suite


def test_sampling_applies_to_generation_tasks_without_their_own(tmp_path, tiny_models):
    suite = _qa_suite_without_generation_kwargs(tmp_path)
    spec = write_spec(tmp_path, suites=f'"{suite}"', extra=TRUST).read_text() + SAMPLING
    (tmp_path / "spec.toml").write_text(spec)
    run = run_llmspec("eval", str(tmp_path / "spec.toml"), "-q", "--limit", "2", "--trust-suite-code", out=tmp_path / "o")
    assert run.code == 0, run.stdout + run.stderr
    gen = run.results["tasks"]["kb_qa"]["generation"]
    assert gen["source"] == "sampling"
    assert gen["kwargs"]["until"] == ["\n"] and gen["kwargs"]["max_gen_toks"] == 5
    assert gen["kwargs"]["do_sample"] is False


def test_suite_generation_kwargs_win(tmp_path, tiny_models):
    suite = _qa_suite_without_generation_kwargs(tmp_path, 'generation_kwargs = {until = ["."], max_gen_toks = 3}\n')
    spec = write_spec(tmp_path, suites=f'"{suite}"', extra=TRUST).read_text() + SAMPLING
    (tmp_path / "spec.toml").write_text(spec)
    run = run_llmspec("eval", str(tmp_path / "spec.toml"), "-q", "--limit", "2", "--trust-suite-code", out=tmp_path / "o")
    assert run.code == 0, run.stdout + run.stderr
    gen = run.results["tasks"]["kb_qa"]["generation"]
    assert gen["source"] == "suite" and gen["kwargs"]["until"] == ["."] and gen["kwargs"]["max_gen_toks"] == 3


def test_peft_adapter_is_applied_and_recorded(tmp_path, tiny_models):
    peft = pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_models["tiny-base"])
    lora = peft.get_peft_model(base, peft.LoraConfig(r=2, lora_alpha=4, target_modules=["c_attn"],
                                                     fan_in_fan_out=True))
    lora.save_pretrained(tmp_path / "adapter")
    suite = tmp_path / "mc.toml"
    suite.write_text(f'name = "mc"\n[[tasks]]\ntask = "kb_mc"\npath = "{ROOT}/suites/smoke/kb_mc.yaml"\n'
                     f'metrics = ["acc"]\n')
    spec = write_spec(tmp_path, suites=f'"{suite}"', extra='adapter = "adapter"')
    run = run_llmspec("eval", str(spec), "-q", "--limit", "3", out=tmp_path / "o")
    assert run.code == 0, run.stdout + run.stderr
    assert run.results["run"]["adapter"] == str(tmp_path / "adapter")
    assert run.stdout.strip() == "llmspec eval: PASSED: no gates to check"
    assert run.results["tasks"]["kb_mc"]["metrics"]["acc"]["n"] == 3


def test_trust_remote_code_needs_spec_and_flag(tmp_path, tiny_models):
    spec = write_spec(tmp_path, suites='"smoke"')
    text = spec.read_text().replace('name = "t"\n', 'name = "t"\ntrust_remote_code = true\n')
    spec.write_text(text)
    run = run_llmspec("eval", str(spec), "--dry-run")
    assert run.code == 0 and "trust_remote_code" not in run.stdout
    assert "stays off without --trust-remote-code" in run.stderr
    run = run_llmspec("eval", str(spec), "--dry-run", "--trust-remote-code")
    assert run.code == 0 and "trust_remote_code=True" in run.stdout
