"""The project's tiny models build offline, deterministically, and load with lm-eval's HF backend."""

from __future__ import annotations

import hashlib

import pytest

pytestmark = pytest.mark.eval


def _digest(path):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.iterdir()) if p.is_file()}


def test_build_is_byte_identical(tmp_path, monkeypatch):
    """Two builds of the same recipe (tokenizer, init and a few training steps) give the same bytes."""
    from llmspec.eval import tinymodel

    recipe = dict(tinymodel.RECIPES["tiny-finetuned"], train=dict(tinymodel._TRAIN, steps=3, warmup=1))
    monkeypatch.setitem(tinymodel.RECIPES, "tiny-test", recipe)
    digests = []
    for i in range(2):
        monkeypatch.setenv("LLMSPEC_CACHE", str(tmp_path / f"c{i}"))
        path = tinymodel.build("tiny-test")
        assert path.name == f"tiny-test-{tinymodel.recipe_hash('tiny-test')}"
        digests.append(_digest(path))
    assert digests[0] == digests[1]
    assert {"model.safetensors", "tokenizer.json", "config.json", "llmspec-recipe.json"} <= set(digests[0])


def test_built_models_are_small_safetensors_gpt2(tiny_models):
    import json

    from transformers import AutoModelForCausalLM, AutoTokenizer

    for name, path in tiny_models.items():
        assert path.parent.name == "models" and path.name.startswith(name + "-")
        assert not list(path.glob("*.bin"))
        model = AutoModelForCausalLM.from_pretrained(path)
        assert model.config.model_type == "gpt2"
        assert sum(p.numel() for p in model.parameters()) < 2_000_000
        tok = AutoTokenizer.from_pretrained(path)
        assert tok.model_input_names == ["input_ids", "attention_mask"]
        assert 1000 < len(tok) <= model.config.vocab_size == 2048  # BPE learns what the small corpus supports
        assert json.loads((path / "tokenizer_config.json").read_text())["tokenizer_class"] == "PreTrainedTokenizerFast"


def test_recipe_hash_names_the_cache_dir(monkeypatch, tmp_path):
    from llmspec.eval import tinymodel

    monkeypatch.setenv("LLMSPEC_CACHE", str(tmp_path))
    assert tinymodel.model_dir("tiny-base") == tmp_path / "models" / f"tiny-base-{tinymodel.recipe_hash('tiny-base')}"
    assert tinymodel.recipe_hash("tiny-base") != tinymodel.recipe_hash("tiny-finetuned")
    with pytest.raises(KeyError):
        tinymodel.resolve("llmspec:nope", build_missing=False)


# kb.VERSION -> sha256 of kb.training_text() (first 16 hex digits) at that version
CORPUS_DIGESTS = {7: "2e24cdc133e09e7b"}


def test_a_changed_corpus_changes_the_cache_key(monkeypatch):
    """The cache is shared between checkouts ($LLMSPEC_CACHE): a model built from another corpus must not be loaded.
    The recipe hash covers kb.VERSION, so the training text pinned here belongs to the current version; a change
    to the generator fails this test until VERSION is bumped (and a digest added)."""
    import hashlib

    from llmspec.eval import kb, tinymodel

    digest = hashlib.sha256(kb.training_text().encode()).hexdigest()[:16]
    assert CORPUS_DIGESTS.get(kb.VERSION) == digest, f"kb.training_text() changed: bump kb.VERSION ({digest})"
    before = tinymodel.recipe_hash("tiny-finetuned")
    monkeypatch.setattr(kb, "VERSION", kb.VERSION + 1)
    assert tinymodel.recipe_hash("tiny-finetuned") != before
