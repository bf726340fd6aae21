"""`llmspec lint CONFIG.yaml`: each fix names the linted tool's own keys and values (translated through the
export's mapping), says where a spec key has no key in that tool, and the run's summary never claims a pass for a
file it could not read. Real fixture files (tests/bridges/fixtures), the real CLI, the real rules."""

from __future__ import annotations

import json
import shutil

import pytest
from bridge_helpers import FIXTURES, PRESETS, run_cli


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _fixes(here, fixture: str, gpu: str, count: int, hf: str | None = None, *more: str) -> dict[str, str]:
    shutil.copy(FIXTURES / fixture, here / fixture)
    args = ["lint", "-f", "json", fixture, "--set", f"hardware.accelerator={gpu}", "--set", f"hardware.count={count}"]
    for item in more:
        args += ["--set", item]
    if hf:
        args += ["--set", f"model.hf_config={PRESETS / hf}"]
    result = run_cli(*args)
    assert result.code in (0, 1), result.out + result.err
    return {f["code"]: f["fix"] or "" for f in json.loads(result.out)}


def test_trl_fixes_name_trl_keys(here):
    fix = _fixes(here, "trl_sft_full.yaml", "A100-80GB", 8, "Llama-2-7b-hf.json")["MEM001"]
    # ZeRO-2's peak is FSDP without resharding after forward, as transformers 5.24 takes FSDP (fsdp + fsdp_config)
    assert "(TRL: fsdp: true, fsdp_config.reshard_after_forward: false)" in fix
    # training.optimizer adamw_8bit + training.paged_optimizer true: one HF optim name
    assert "(TRL: optim: paged_adamw_8bit)" in fix
    assert "hardware.nodes: no TRL config key (set it where the run is launched)" in fix
    assert "--set" not in fix and "training." not in fix


def test_axolotl_fixes_name_axolotl_keys(here):
    fixes = _fixes(here, "axolotl_lora_1b.yml", "T4", 1, "Meta-Llama-3-8B.json")
    # (the accumulation fix may come with another: FSDP over 8 GPUs, which defers only the adapters' gradients)
    assert "micro_batch_size: 1, gradient_accumulation_steps: 4" in fixes["MEM001"]
    # transformers 5.24 offloads what checkpointing saves (stackfit): offloading is a fix on HF Trainer stacks now,
    # and ranks above QLoRA here
    assert "(axolotl: gradient_checkpointing: offload," in fixes["MEM001"]
    assert "training." not in fixes["MEM001"]


def test_llamafactory_fixes_name_llamafactory_keys(here):
    fixes = _fixes(here, "llamafactory_lora_sft.yaml", "T4", 1, "Meta-Llama-3-8B.json")
    assert "(LLaMA-Factory: quantization_bit: 4, quantization_method: bnb," in fixes["MEM001"]
    assert fixes["OVF006"].startswith("set val_size: 0.05 or training.data.eval (llmspec maps no LLaMA-Factory key to it), and "
                                      "early_stopping_steps: 3")
    assert "set weight_decay: 0.1 or training.dropout = 0.1 (llmspec maps no LLaMA-Factory key to it)" in fixes["OVF007"]
    full = _fixes(here, "llamafactory_full_sft.yaml", "A100-80GB", 8, "Meta-Llama-3-8B.json")["MEM001"]
    assert "(LLaMA-Factory: deepspeed: examples/deepspeed/ds_z2_config.json)" in full


def test_litgpt_fixes_name_litgpt_keys(here):
    fix = _fixes(here, "litgpt_llama3_8b_lora.yaml", "T4", 1)["MEM001"]
    assert "(LitGPT: devices: 8, train.global_batch_size: 64;" in fix  # LitGPT's global batch spans the devices
    # on 11 GiB, 8 GPUs alone no longer fit and a single-GPU QLoRA fix with checkpointing comes third: the export
    # refuses what LitGPT cannot do, and the fix says so rather than naming a key. (Since FSDP's deferred sync
    # keeps only the adapters' gradients under LitGPT's FSDP2, 8 GPUs are the cheapest fix on the T4 and the
    # QLoRA-only fixes, with `quantize: bnb.nf4-dq`, no longer reach the three cheapest.)
    fix = _fixes(here, "litgpt_llama3_8b_lora.yaml", "T4", 1, None, "hardware.memory=11GiB")["MEM001"]
    assert "LitGPT cannot express it: training.activation_checkpointing = true has no LitGPT equivalent" in fix


def test_torchtune_fixes_name_torchtune_keys(here):
    fix = _fixes(here, "torchtune_llama3_8b_lora_single_device.yaml", "T4", 1)["MEM001"]
    assert "(torchtune: model._component_: torchtune.models.llama3.qlora_llama3_8b)" in fix
    assert "hardware.count, hardware.sharding: no torchtune config key" in fix


def test_bare_key_in_a_fix_is_the_tools_key(here):
    # ORG002 (llmspec-policy plugin) says `add seed = 42 ... to [training]`; in an axolotl config that is `seed: 42`
    fixes = _fixes(here, "axolotl_lora_1b.yml", "T4", 1, "Meta-Llama-3-8B.json")
    if "ORG002" not in fixes:
        pytest.skip("the llmspec-policy plugin is not installed")
    assert fixes["ORG002"] == "add seed: 42 (any fixed integer) to the axolotl config"


def test_unreadable_config_is_never_a_pass(here):
    (here / "bad.yaml").write_text("base_model: x\nmicro_batch_size: [1,\n")
    result = run_cli("lint", "bad.yaml")
    assert result.code == 2
    assert "All checks passed" not in result.out
    assert result.out.startswith("Not all checked: 1 file could not be read (see stderr)")
    assert result.err.startswith("bad.yaml:3:1: YAML syntax error")


def test_unreadable_config_beside_findings_is_in_the_summary(here):
    (here / "bad.yaml").write_text("a: [1,\n")
    (here / "train.yaml").write_text("model_name_or_path: meta-llama/Llama-2-7b-hf\nmax_length: 512\nlearning_rate: 1.0\n")
    result = run_cli("lint", "-f", "concise", "bad.yaml", "train.yaml")
    assert result.code == 2
    assert "in 1 spec; 1 file could not be read (see stderr)." in result.out


@pytest.mark.parametrize("name", ["train.yml", "axolotl/qlora.yml"])
def test_skip_other_yaml_still_reports_a_broken_training_config(here, name):
    # by its keys (base_model, micro_batch_size: axolotl's) or by its folder's name
    text = "base_model: x\nmicro_batch_size: [1,\nsequence_len: 512\n" if name == "train.yml" else "key: [1,\n"
    path = here / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    (here / "other.yml").write_text("jobs: [1,\n")  # no training config: still skipped
    result = run_cli("lint", "--skip-other-yaml", name, "other.yml")
    assert result.code == 2
    line = result.err.strip().splitlines()
    assert len(line) == 1 and line[0].startswith(f"{name}:") and "YAML syntax error" in line[0]
    assert "other.yml" not in result.err


def test_a_rule_that_applies_to_specs_only_skips_tool_configs(here, monkeypatch):
    """Rules declare their inputs (Rule.applies_to): one for specs only is not run on a training tool's YAML, and
    still runs on a spec. (The registry is extended with this test's rule; the engine and the files are real.)"""
    from llmspec.lint import Rule, engine
    from llmspec.lint.registry import all_rules

    class SpecOnly(Rule):
        code, name, severity = "TST001", "spec-only", "warning"
        applies_to = frozenset({"spec"})

        def check(self, ctx):
            yield self.finding(ctx, ("model",), "spec only")

    rules = {**all_rules(), "TST001": SpecOnly}
    monkeypatch.setattr(engine, "all_rules", lambda: rules)
    shutil.copy(FIXTURES / "trl_sft_lora.yaml", here / "train.yaml")
    yaml_run = run_cli("lint", "-f", "concise", "train.yaml", "--set",
                       f"model.hf_config={PRESETS / 'Llama-2-7b-hf.json'}")
    assert "train.yaml:" in yaml_run.out and "TST001" not in yaml_run.out, yaml_run.out + yaml_run.err
    (here / "spec.toml").write_text(f'version = 1\n[model]\nname = "m"\nhf_config = "{PRESETS / "Llama-2-7b-hf.json"}"\n')
    spec_run = run_cli("lint", "-f", "concise", "spec.toml")
    assert "spec.toml:2:2: TST001" in spec_run.out, spec_run.out + spec_run.err


def test_machine_formats_carry_an_unreadable_file(here):
    """A CI report (JUnit, GitHub annotations) of a run that could not read a file shows an error, not a pass."""
    import xml.etree.ElementTree as ET

    (here / "bad.yaml").write_text("base_model: x\nmicro_batch_size: [1,\n")
    report = run_cli("lint", "-f", "junit", "bad.yaml")
    assert report.code == 2
    root = ET.fromstring(report.out.split("\n", 1)[1])
    assert root.get("errors") == "1" and root.get("tests") == "1"
    assert root.find("testsuite/testcase/error").get("message").startswith("bad.yaml:3:1: YAML syntax error")
    github = run_cli("lint", "-f", "github", "bad.yaml")
    assert github.out.startswith("::error file=bad.yaml,line=3,col=1,title=unreadable::YAML syntax error")
