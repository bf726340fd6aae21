"""The fast path's shortcuts: estimates shared across estimate-free keys, validation of the changed tables."""

from __future__ import annotations

import pytest
from sweep_helpers import ROOT

from llmspec.estimate import compute, inference_memory, training_memory
from llmspec.spec.loader import load_spec
from llmspec.sweep.fast import COMPUTE_ONLY, ESTIMATE_FREE, FastPath

SPECS = [ROOT / "examples" / name for name in ("llama2-7b-lora-a100.toml", "llama3-8b-qlora-rtx4090.toml",
                                               "llama3-70b-full-fsdp-8xh100.toml", "pretrain-7b-repeated-data.toml")]
# a different valid value for every estimate-free key that is not a prefix
CHANGES = {
    "training.learning_rate": 0.5, "training.lr_schedule": "constant", "training.warmup_ratio": 0.5,
    "training.warmup_steps": 77, "training.seed": 3, "training.early_stopping": True,
    "training.validation_split": 0.3, "training.lora.alpha": 7.0, "training.max_grad_norm": 0.1,
    "training.weight_decay": 0.3, "model.name": "other", "model.weights": "elsewhere", "model.tokenizer": "tok",
    "eval.limit": 3, "meta.owner": "x",
    "training.data.train": "other.jsonl",
}


def _numbers(result) -> dict | None:
    """An estimate's figures (what the fast path judges and reports), without its assumption texts."""
    return None if result is None else {k: v for k, v in result.to_dict().items() if k != "assumptions"}


def _all(spec):
    return (_numbers(training_memory(spec)) if spec.training else None, _numbers(inference_memory(spec)),
            _numbers(compute(spec)) if spec.training else None)


def test_every_exact_estimate_free_key_has_a_change() -> None:
    assert {k for k in ESTIMATE_FREE if not k.endswith(".")} <= set(CHANGES)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
@pytest.mark.parametrize("key", sorted(CHANGES))
def test_estimate_free_keys_do_not_change_estimates(path, key) -> None:
    spec = load_spec(path)
    fast = FastPath(spec)
    changed, problems = fast.validate({key: CHANGES[key]})
    assert changed is not None, problems
    assert _all(changed) == _all(spec)


def test_swept_value_is_validated_unlike_model_copy() -> None:
    spec = load_spec(SPECS[0])
    assert spec.training is not None
    # pydantic's model_copy(update=...) accepts a value outside the field's range without a word
    unchecked = spec.training.model_copy(update={"learning_rate": 20.0})
    assert unchecked.learning_rate == 20.0
    fast = FastPath(spec)
    checked, problems = fast.validate({"training.learning_rate": 20.0})
    assert checked is None
    assert problems == ["training.learning_rate: 20.0 is out of range; it must be <= 10.0"]
    ok, _ = fast.validate({"training.learning_rate": 3e-4, "training.method": "qlora"})
    assert ok is not None and ok.training is not None and ok.training.lora is not None  # model validators ran


def test_unknown_accelerator_is_invalid() -> None:
    fast = FastPath(load_spec(SPECS[0]))
    spec, problems = fast.validate({"hardware.accelerator": "Z9000"})
    assert spec is None and "Z9000" in problems[0]


def test_points_have_no_sweep_table() -> None:
    from sweep_helpers import EXAMPLE

    fast = FastPath(load_spec(EXAMPLE))
    spec, _ = fast.validate({"training.learning_rate": 3e-4})
    assert spec is not None and spec.sweep is None
    assert fast.base.sweep is not None  # the base is not changed


COMPUTE_CHANGES = {
    "training.dataset_tokens": 123_456_789, "training.dataset_examples": 4321, "training.mean_example_tokens": 77.0,
    "training.epochs": 2.5, "training.max_steps": 99, "hardware.mfu": 0.2, "hardware.price_per_gpu_hour": 9.0,
    "hardware.budget_gpu_hours": 5.0, "hardware.budget_hours": 5.0, "hardware.budget_usd": 5.0,
}


def test_every_compute_only_key_has_a_change() -> None:
    assert set(COMPUTE_ONLY) == set(COMPUTE_CHANGES)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
@pytest.mark.parametrize("key", sorted(COMPUTE_CHANGES))
def test_compute_only_keys_do_not_change_memory(path, key) -> None:
    spec = load_spec(path)
    changed, problems = FastPath(spec).validate({key: COMPUTE_CHANGES[key]})
    assert changed is not None, problems
    assert _all(changed)[:2] == _all(spec)[:2]


POINTS = [
    {"training.lora.rank": 32},  # the training table is new: PEFT's default targets must be filled again
    {"training.stack": "torchtune", "training.micro_batch_size": 2},
    {"training.method": "full", "training.seq_len": 1024},
    {"training.lora.targets": ["q_proj", "k_proj"], "hardware.count": 2, "hardware.sharding": "fsdp"},
    {"hardware.count": 4},  # the training table is the base's, shared
]


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
@pytest.mark.parametrize("point", POINTS, ids=lambda p: ",".join(p))
def test_table_validation_equals_whole_spec_validation(path, point) -> None:
    """Validating only the changed tables, then Spec's own after-validators (PEFT's default targets), gives the
    spec that Spec.model_validate gives for the whole document."""
    from llmspec.spec.models import Spec
    from llmspec.sweep.fast import with_overrides

    fast = FastPath(load_spec(path))
    assert fast.by_table
    spec, problems = fast.validate(point)
    assert spec is not None, problems
    whole = Spec.model_validate(with_overrides(fast.doc, point))
    assert spec.model_dump() == whole.model_dump()
    assert spec.training is not None and whole.training is not None
    if whole.training.lora is not None:
        assert spec.training.lora is not None and spec.training.lora.targets == whole.training.lora.targets
