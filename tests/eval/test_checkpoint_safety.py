"""Pickle refusal by what transformers would load (issue 11, finding 4): crafted checkpoints built from the tiny
model, each carrying a real pickle payload that writes a marker file when unpickled. The marker must never
appear, and the run ends in one line with exit 2 (a refused checkpoint is a config error)."""

from __future__ import annotations

import json
import pickle
import shutil

import pytest
from eval_helpers import run_llmspec
from test_eval_exit_codes import one_line, write_spec

pytestmark = pytest.mark.eval


class _Payload:
    """Unpickling this runs code: it writes ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def _write_payload(path, marker) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(_Payload(marker)))


def test_the_payload_is_live(tmp_path):
    """The payload really runs code when unpickled (so a missing marker below means it was never unpickled)."""
    probe = tmp_path / "probe"
    _write_payload(tmp_path / "p.bin", probe)
    pickle.loads((tmp_path / "p.bin").read_bytes())
    assert probe.read_text() == "pwned"


def _checkpoint(tmp_path, tiny_models, *, keep_safetensors=False):
    model = tmp_path / "ckpt"
    shutil.copytree(tiny_models["tiny-base"], model)
    if not keep_safetensors:
        (model / "model.safetensors").unlink()
    return model


def _refused(tmp_path, model_arg, *extra, env=None, marker):
    spec = write_spec(tmp_path)
    run = run_llmspec("eval", str(spec), "-q", "--model", str(model_arg), *extra, out=tmp_path / "o", env=env)
    line = one_line(run)
    assert not marker.exists(), "the pickle payload ran"
    assert run.code == 2, run.stdout + run.stderr
    assert "internal error" not in run.stderr
    assert "--allow-pickle" in line
    return line


def test_decoy_safetensors_in_a_subfolder(tmp_path, tiny_models):
    marker = tmp_path / "marker"
    model = _checkpoint(tmp_path, tiny_models)
    (model / "decoy").mkdir()
    shutil.copy(tiny_models["tiny-base"] / "model.safetensors", model / "decoy" / "model.safetensors")
    _write_payload(model / "pytorch_model.bin", marker)
    line = _refused(tmp_path, model, marker=marker)
    assert f"{model}: no model.safetensors or model.safetensors.index.json" in line


def test_shards_named_optimizer(tmp_path, tiny_models):
    marker = tmp_path / "marker"
    model = _checkpoint(tmp_path, tiny_models)
    _write_payload(model / "optimizer-00001-of-00001.bin", marker)
    (model / "pytorch_model.bin.index.json").write_text(json.dumps(
        {"metadata": {}, "weight_map": {"transformer.wte.weight": "optimizer-00001-of-00001.bin"}}))
    _refused(tmp_path, model, marker=marker)


def test_safetensors_index_pointing_at_a_pickle(tmp_path, tiny_models):
    marker = tmp_path / "marker"
    model = _checkpoint(tmp_path, tiny_models)
    _write_payload(model / "weights.data", marker)
    (model / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {}, "weight_map": {"transformer.wte.weight": "weights.data"}}))
    line = _refused(tmp_path, model, marker=marker)
    assert "model.safetensors.index.json: shard 'weights.data'" in line


def test_config_transformers_weights_naming_a_pickle(tmp_path, tiny_models):
    """transformers 5.24 accepts transformers_weights = "adapter_model.bin" even under use_safetensors=True
    (modeling_utils._get_resolved_checkpoint_files), and it wins over a model.safetensors beside it."""
    marker = tmp_path / "marker"
    model = _checkpoint(tmp_path, tiny_models, keep_safetensors=True)
    _write_payload(model / "adapter_model.bin", marker)
    config = json.loads((model / "config.json").read_text())
    config["transformers_weights"] = "adapter_model.bin"
    (model / "config.json").write_text(json.dumps(config))
    line = _refused(tmp_path, model, marker=marker)
    assert 'config.json: transformers_weights = "adapter_model.bin"' in line


def test_pickled_peft_adapter(tmp_path, tiny_models):
    marker = tmp_path / "marker"
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps(
        {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 2, "lora_alpha": 4, "target_modules": ["c_attn"],
         "base_model_name_or_path": str(tiny_models["tiny-base"])}))
    _write_payload(adapter / "adapter_model.bin", marker)
    spec = write_spec(tmp_path, extra=f'adapter = "{adapter}"')
    run = run_llmspec("eval", str(spec), "-q", out=tmp_path / "o")
    line = one_line(run)
    assert not marker.exists()
    assert run.code == 2 and "no adapter_model.safetensors" in line and "--allow-pickle" in line


def _hub_cache(tmp_path, tiny_models, repo: str) -> tuple[dict, object]:
    """A hub id as Hugging Face's offline cache holds it (hub/models--org--name/snapshots/<rev>/...)."""
    home = tmp_path / "hf"
    cached = home / "hub" / f"models--{repo.replace('/', '--')}"
    rev = "0" * 40
    snap = cached / "snapshots" / rev
    shutil.copytree(tiny_models["tiny-base"], snap)
    (cached / "refs").mkdir()
    (cached / "refs" / "main").write_text(rev)
    return {"HF_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}, snap


def test_hub_id_with_only_pickle_weights(tmp_path, tiny_models):
    marker = tmp_path / "marker"
    env, snap = _hub_cache(tmp_path, tiny_models, "evil/tiny")
    (snap / "model.safetensors").unlink()
    _write_payload(snap / "pytorch_model.bin", marker)
    line = _refused(tmp_path, "evil/tiny", env=env, marker=marker)
    assert "evil/tiny: no safetensors weights" in line


def test_hub_id_whose_cached_config_names_a_pickle(tmp_path, tiny_models):
    marker = tmp_path / "marker"
    env, snap = _hub_cache(tmp_path, tiny_models, "evil/tiny2")
    _write_payload(snap / "adapter_model.bin", marker)
    config = json.loads((snap / "config.json").read_text())
    config["transformers_weights"] = "adapter_model.bin"
    (snap / "config.json").write_text(json.dumps(config))
    line = _refused(tmp_path, "evil/tiny2", env=env, marker=marker)
    assert "evil/tiny2/config.json: transformers_weights" in line


def test_runtime_guard_refuses_any_unpickling(tmp_path, tiny_models):
    """Behind the file rules: while the model loads, torch.load itself refuses (the real HFLM load)."""
    from llmspec.eval import lmeval
    from llmspec.eval.modelref import EvalError
    from llmspec.eval.plan import Plan

    marker = tmp_path / "marker"
    model = _checkpoint(tmp_path, tiny_models, keep_safetensors=True)
    _write_payload(model / "adapter_model.bin", marker)
    config = json.loads((model / "config.json").read_text())
    config["transformers_weights"] = "adapter_model.bin"
    (model / "config.json").write_text(json.dumps(config))
    plan = Plan("hf", "cpu", "float32", 1, {"pretrained": str(model), "dtype": "float32", "device": "cpu"})
    with pytest.raises(EvalError) as err:
        lmeval.make_lm(plan)
    assert not marker.exists()
    assert err.value.exit_code == 2 and "refusing to unpickle" in str(err.value)


def test_allow_pickle_still_loads_a_plain_state_dict(tmp_path, tiny_models):
    """--allow-pickle keeps working for honest .bin weights (transformers' own weights_only=True load)."""
    import torch
    from safetensors.torch import load_file

    model = _checkpoint(tmp_path, tiny_models)
    torch.save(load_file(tiny_models["tiny-base"] / "model.safetensors"), model / "pytorch_model.bin")
    spec = write_spec(tmp_path)
    run = run_llmspec("eval", str(spec), "-q", "--model", str(model), "--allow-pickle", "--limit", "2",
                      out=tmp_path / "o")
    assert run.code in (0, 1), run.stdout + run.stderr
