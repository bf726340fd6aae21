"""The loader on valid inputs: extends, --set overrides, hf_config, the Python API and is_set."""

from __future__ import annotations

from pathlib import Path

import pytest
from spec_helpers import EXAMPLES, MINIMAL, run_cli

import llmspec
from llmspec.spec.loader import SpecError, deep_merge, load_spec, parse_override
from llmspec.spec.source import Location

BASE = MINIMAL + """
[training]
method = "lora"
epochs = 3
learning_rate = 2e-4

[training.lora]
rank = 16
targets = ["q_proj", "k_proj", "v_proj", "o_proj"]

[sampling]
stop = ["</s>", "<|eot|>"]
"""


# -- extends ------------------------------------------------------------------------------------------------
def test_extends_deep_merges_tables_and_replaces_arrays(write) -> None:
    write("base/common.toml", BASE)
    child = write(
        "specs/run.toml",
        'extends = "../base/common.toml"\n\n[training]\nepochs = 1\n\n[training.lora]\ntargets = ["q_proj"]\n'
        '\n[sampling]\nstop = []\n',
    )
    spec = load_spec(child)
    assert spec.training.epochs == 1  # child wins
    assert spec.training.learning_rate == 2e-4  # inherited from the base table: tables merge
    assert spec.training.method == "lora"
    assert spec.training.lora.rank == 16  # nested tables merge too
    assert spec.training.lora.targets == ["q_proj"]  # arrays replace, they do not concatenate
    assert spec.sampling.stop == []  # an empty array replaces as well
    assert spec.model.name == "tiny" and spec.arch.n_layers == 2
    assert spec.extends == "../base/common.toml"


def test_extends_origins_point_into_the_file_that_wrote_the_key(write, tmp_path: Path) -> None:
    write("base/common.toml", BASE)
    child = write("run.toml", 'extends = "base/common.toml"\n[training]\nepochs = 1\n')
    source = load_spec(child).source
    base_display = str(tmp_path / "base" / "common.toml")
    assert source.locate(("training", "epochs")) == Location(str(child), 3, 1)
    assert source.locate(("training", "learning_rate")) == Location(base_display, 15, 1)
    assert source.locate(("model", "architecture", "n_heads")) == Location(base_display, 7, 1)
    # an unwritten key falls back to its nearest written table
    assert source.locate(("training", "seed")) == Location(str(child), 2, 2)
    assert source.path == str(child)
    assert set(source.texts) == {str(child), base_display}
    assert source.line_text(source.locate(("training", "learning_rate"))) == "learning_rate = 2e-4"


def test_extends_chain_of_three_with_relative_paths(write) -> None:
    write("a/root.toml", MINIMAL + "[training]\nseed = 1\nepochs = 9\n")
    write("a/b/mid.toml", 'extends = "../root.toml"\n[training]\nseed = 2\n')
    leaf = write("c/leaf.toml", 'extends = "../a/b/mid.toml"\n[training]\nepochs = 3\n')
    spec = load_spec(leaf)
    assert (spec.training.seed, spec.training.epochs) == (2, 3)


def test_extends_problem_in_base_is_reported_in_the_base_file(write, tmp_path: Path) -> None:
    write("base.toml", MINIMAL.replace("d_model = 64", 'd_model = "wide"'))
    child = write("run.toml", 'extends = "base.toml"\n')
    with pytest.raises(SpecError) as info:
        load_spec(child)
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.col) == (str(tmp_path / "base.toml"), 6, 1)
    assert problem.key == "model.architecture.d_model"
    assert problem.kind == "schema"


def test_example_with_extends_inherits_the_architecture() -> None:
    spec = load_spec(EXAMPLES / "llama3-70b-full-fsdp-8xh100.toml")
    assert spec.arch.n_layers == 80 and spec.arch.kv_heads == 8
    assert spec.model.name == "aqua-domain-70b"  # overridden
    assert spec.model.parameters == 70_600_000_000  # inherited "70.6B"
    assert spec.source.locate(("model", "architecture", "d_model")).file.endswith("llama-3-70b.toml")


def test_deep_merge_does_not_mutate_its_inputs() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    over = {"a": {"c": [3]}, "e": {"f": 1}}
    merged = deep_merge(base, over)
    assert merged == {"a": {"b": 1, "c": [3]}, "d": 1, "e": {"f": 1}}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1} and over == {"a": {"c": [3]}, "e": {"f": 1}}
    merged["e"]["f"] = 2
    assert over["e"]["f"] == 1


# -- --set --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("training.epochs=2", ("training.epochs", 2)),
        ("training.learning_rate=3e-4", ("training.learning_rate", 3e-4)),
        ("training.activation_checkpointing=true", ("training.activation_checkpointing", True)),
        ('training.lora.targets=["q_proj","v_proj"]', ("training.lora.targets", ["q_proj", "v_proj"])),
        ("hardware.accelerator=H100", ("hardware.accelerator", "H100")),  # a bare word is a string
        ('model.name="with spaces"', ("model.name", "with spaces")),
        ("model.name = spaced out ", ("model.name", "spaced out")),  # surrounding spaces are stripped
        ("training.dataset_tokens=3_000_000", ("training.dataset_tokens", 3_000_000)),
        ("training.dataset_tokens=40M", ("training.dataset_tokens", "40M")),  # read later as a size
        ("model.name=a=b", ("model.name", "a=b")),  # only the first = separates
        ("meta.tags=[]", ("meta.tags", [])),
        ('training.lora={rank=8}', ("training.lora", {"rank": 8})),
    ],
)
def test_parse_override_values(item: str, expected: tuple) -> None:
    key, value, error = parse_override(item)
    assert error is None
    assert (key, value) == expected


def test_set_overrides_numbers_arrays_words_and_creates_tables(write) -> None:
    path = write("spec.toml", MINIMAL)
    spec = load_spec(
        path,
        overrides=[
            "training.epochs=2",
            'training.lora.targets=["q_proj","v_proj"]',
            "training.method=qlora",
            "hardware.accelerator=H100",
            "training.dataset_tokens=40M",
            "model.architecture.n_layers=3",
        ],
    )
    assert spec.training.epochs == 2
    assert spec.training.method == "qlora"
    assert spec.training.lora.targets == ["q_proj", "v_proj"]
    assert spec.training.lora.rank == 16  # the rest of the created table comes from defaults
    assert spec.hardware.accelerator == "H100"
    assert spec.training.dataset_tokens == 40_000_000
    assert spec.arch.n_layers == 3
    assert spec.source.locate(("training", "epochs")) == Location("<--set training.epochs>", 1, 1)
    assert spec.source.is_set(("training", "epochs"))
    assert spec.source.raw["training"]["epochs"] == 2


def test_set_later_override_wins(write) -> None:
    spec = load_spec(write("spec.toml", MINIMAL), overrides=["training.epochs=2", "training.epochs=5"])
    assert spec.training.epochs == 5


def test_set_through_the_cli(write, tmp_path: Path) -> None:
    write("spec.toml", MINIMAL)
    ok = run_cli("check", "spec.toml", "--set", "training.epochs=2", "--set", "hardware.accelerator=T4", cwd=tmp_path)
    assert (ok.code, ok.lines) == (0, ["spec.toml: ok"])


# -- hf_config ----------------------------------------------------------------------------------------------
def test_hf_config_example_imports_the_architecture() -> None:
    spec = load_spec(EXAMPLES / "llama3-8b-qlora-rtx4090.toml")
    arch = spec.arch
    # meta-llama/Meta-Llama-3-8B config.json (examples/configs/llama-3-8b.json)
    assert (arch.n_layers, arch.d_model, arch.n_heads, arch.kv_heads) == (32, 4096, 32, 8)
    assert (arch.ffn_dim, arch.vocab_size, arch.context_length) == (14336, 128256, 8192)
    assert arch.activation == "swiglu" and arch.norm == "rmsnorm" and not arch.tie_embeddings
    assert spec.model.family == "llama"
    assert spec.source.locate(("model", "architecture")).file.endswith("llama3-8b-qlora-rtx4090.toml")


def test_written_architecture_keys_override_hf_config(write) -> None:
    (write("cfg/config.json", (EXAMPLES / "configs" / "llama-3-8b.json").read_text()))
    path = write(
        "spec.toml",
        '[model]\nname = "x"\nfamily = "custom"\nhf_config = "cfg/config.json"\n[model.architecture]\ncontext_length = 2048\n',
    )
    spec = load_spec(path)
    assert spec.arch.context_length == 2048  # the spec's own key wins
    assert spec.arch.n_layers == 32  # the rest comes from config.json
    assert spec.model.family == "custom"  # a written family is kept


def test_hf_config_in_a_base_is_relative_to_the_base(write) -> None:
    write("base/config.json", (EXAMPLES / "configs" / "llama-3-8b.json").read_text())
    write("base/base.toml", '[model]\nname = "x"\nhf_config = "config.json"\n')
    spec = load_spec(write("run.toml", 'extends = "base/base.toml"\n[training]\nepochs = 1\n'))
    assert spec.arch.vocab_size == 128256


def test_hf_config_unknown_model_type_lists_supported(write) -> None:
    write("c.json", '{"model_type": "not-a-model"}')
    path = write("spec.toml", '[model]\nname = "x"\nhf_config = "c.json"\n')
    with pytest.raises(SpecError) as info:
        load_spec(path)
    (problem,) = info.value.problems
    assert (problem.line, problem.col, problem.key) == (3, 1, "model.hf_config")
    assert "unsupported model_type 'not-a-model'" in problem.message
    for family in ("llama", "mistral", "gpt2", "qwen2"):
        assert family in problem.message


@pytest.mark.parametrize("content", ["[1, 2]", "null", '"text"', ""])
def test_hf_config_that_is_not_an_object(write, content: str) -> None:
    write("c.json", content)
    path = write("spec.toml", '[model]\nname = "x"\nhf_config = "c.json"\n')
    with pytest.raises(SpecError) as info:
        load_spec(path)
    (problem,) = info.value.problems
    assert problem.message.startswith("model.hf_config: cannot read 'c.json' as a config.json (")
    assert (problem.line, problem.col) == (3, 1)


# -- Python API ---------------------------------------------------------------------------------------------
def test_python_api_is_exported_lazily() -> None:
    from llmspec import project

    assert llmspec.load_spec is project.load_spec  # the loader plus the project configuration
    assert llmspec.SpecError is SpecError
    assert llmspec.Spec.__name__ == "Spec"


def test_load_spec_accepts_str_and_pathlike(write) -> None:
    path = write("spec.toml", MINIMAL)
    assert load_spec(str(path)).model.name == load_spec(path).model.name == "tiny"


def test_spec_error_lists_problems_sorted_with_kind(write) -> None:
    path = write("spec.toml", '[training]\nepochs = 0\n[model]\nname = ""\nhf_config = "c.json"\n')
    with pytest.raises(SpecError) as info:
        load_spec(path)
    problems = info.value.problems
    assert [(p.line, p.key) for p in problems] == [(2, "training.epochs"), (4, "model.name"), (5, "model.hf_config")]
    assert all(p.kind == "schema" for p in problems)
    assert str(info.value) == "\n".join(str(p) for p in problems)


def test_load_spec_accepts_extra_accelerators(write) -> None:
    path = write("spec.toml", MINIMAL + '[hardware]\naccelerator = "lab-card"\n')
    with pytest.raises(SpecError):
        load_spec(path)
    extra = {"lab-card": {"memory": "48GiB", "bandwidth": 900, "tflops": {"bf16": 150}, "bf16": True}}
    assert load_spec(path, accelerators=extra).hardware.accelerator == "lab-card"


def test_defaults_and_derived_properties(write) -> None:
    spec = load_spec(write("spec.toml", MINIMAL + "[training]\nmethod = \"lora\"\n[hardware]\ncount = 4\nnodes = 2\n"))
    assert spec.arch.kv_heads == 4 and spec.arch.head_size == 16 and spec.arch.gated
    assert spec.training.lora is not None and spec.training.lora.rank == 16  # lora gets its default table
    assert spec.hardware.world_size == 8
    assert spec.training.tokens_per_epoch is None


# -- is_set -------------------------------------------------------------------------------------------------
def test_is_set_tells_written_keys_from_defaults(write) -> None:
    spec = load_spec(write("spec.toml", MINIMAL + '[training]\nepochs = 2\n[[eval.gates]]\nmetric = "a/b"\nmin = 1\n'))
    source = spec.source
    assert source.is_set(("training", "epochs"))
    assert not source.is_set(("training", "learning_rate"))  # a default, not written
    assert spec.training.learning_rate == 1e-4
    assert source.is_set(("eval", "gates", 0, "min"))
    assert not source.is_set(("eval", "gates", 1, "min"))
    assert not source.is_set(("eval", "gates", 0, "max"))
    assert not source.is_set(("hardware",))
    assert not source.is_set(("model", "name", "deeper"))
    assert source.is_set(())
