"""ARC005's fixes name the family's real modules: the linear layers inside a container target, PEFT's fused expert
names together, and the class's linear names when nothing matches (the real lint, one finding per cause, each at its
target's file:line:col)."""

from __future__ import annotations

from lint_helpers import lint_spec

SPEC = '''extends = "preset:{preset}"

[model]
name = "m"

[training]
method = "lora"

[training.lora]
targets = {targets}
'''


def findings(tmp_path, preset: str, targets: str):
    return lint_spec(tmp_path, SPEC.format(preset=preset, targets=targets), select=["ARC005"]).findings


def test_container_fix_names_the_linears_inside_it(tmp_path):
    [f] = findings(tmp_path, "GPT-2", '["c_attn", "mlp"]')
    assert (f.severity, f.line, f.col) == ("error", 10, 22)
    assert 'name the linear layers inside it instead: ["c_fc", "c_proj"]' in f.fix
    assert "GPT2LMHeadModel" in f.fix and '"c_attn", "c_proj", "c_fc"' in f.fix


def test_a_norm_has_no_linears_inside(tmp_path):
    [f] = findings(tmp_path, "Qwen3-8B", '["q_norm"]')
    assert f.severity == "error" and "(model.layers.#.self_attn.q_norm)" in f.message
    assert f.fix.startswith("remove it (a norm, dropout, activation or rotary embedding takes no adapter)")


def test_each_container_gets_its_own_finding_and_misses_stay_one_warning(tmp_path):
    got = findings(tmp_path, "Llama-2-7B", '["q_proj", "mlp", "nope", "self_attn.rotary", "layers"]')
    assert [(f.severity, f.col) for f in got] == [("error", 22), ("warning", 29), ("error", 57)]
    assert 'inside it instead: ["gate_proj", "up_proj", "down_proj"]' in got[0].fix
    assert '["nope", "self_attn.rotary"] match no module' in got[1].message and "stops at the container" in got[1].message
    assert 'inside it instead: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj"' in got[2].fix


def test_fused_expert_names_are_named_together(tmp_path):
    [f] = findings(tmp_path, "Qwen3-30B-A3B", '["up_proj"]')
    assert f.severity == "error" and 'name them together: ["gate_proj", "up_proj"]' in f.fix


def test_nothing_matches_names_the_real_modules(tmp_path):
    [f] = findings(tmp_path, "Mixtral-8x7B", '["gate_proj", "up_proj"]')
    assert f.severity == "error" and "0 trainable parameters" in f.message
    assert '"q_proj", "k_proj", "v_proj", "o_proj", "gate", "w1", "w3", "w2"' in f.fix
