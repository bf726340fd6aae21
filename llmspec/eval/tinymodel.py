"""The project's own tiny causal LMs, built offline and deterministically (no download, ever).

Two models share one architecture and one tokenizer:

- ``tiny-base``: a GPT-2-style model (4 layers x 128, ~1M parameters) with seeded random weights;
- ``tiny-finetuned``: the same initial weights trained briefly on the generated product knowledge base
  (:mod:`llmspec.eval.kb`), one torch thread, deterministic algorithms.

The tokenizer is a byte-level BPE trained with ``tokenizers`` on the same corpus and saved as a
``PreTrainedTokenizerFast`` with ``model_input_names = [input_ids, attention_mask]`` (transformers 5 would
otherwise write a ``TokenizersBackend`` and GPT-2 would receive token_type_ids; see /work/shared/NOTES.md).

Models are cached in ``$LLMSPEC_CACHE/models/<name>-<recipe hash>`` (default ``~/.cache/llmspec``, see :func:`cache_root`); the hash
covers the whole build recipe, so a changed recipe builds a new directory. Specs name them as
``weights = "llmspec:tiny-base"``. torch and transformers are imported only inside :func:`build`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from llmspec.eval import kb

PREFIX = "llmspec:"
EOS = "<|endoftext|>"

_ARCH: dict[str, Any] = {"n_layer": 4, "n_embd": 128, "n_head": 4, "n_inner": 512, "n_positions": 256, "vocab_size": 2048}
_TOKENIZER = {"vocab_size": 2048, "min_frequency": 2}
_TRAIN = {"steps": 500, "batch_size": 16, "seq_len": 128, "lr": 3e-3, "warmup": 40, "weight_decay": 0.01,
          "label_smoothing": 0.2}

RECIPES: dict[str, dict] = {
    "tiny-base": {"arch": _ARCH, "tokenizer": _TOKENIZER, "seed": 0, "train": None},
    "tiny-finetuned": {"arch": _ARCH, "tokenizer": _TOKENIZER, "seed": 0, "train": _TRAIN},
}
_RECIPE_VERSION = 3


def cache_root() -> Path:
    """``$LLMSPEC_CACHE``, else the per-user cache directory: ``$XDG_CACHE_HOME/llmspec`` or ``~/.cache/llmspec``
    (XDG Base Directory Specification; ``%LOCALAPPDATA%/llmspec/Cache`` on Windows, as platformdirs does), so
    that a run from any working directory finds the models built before."""
    if os.environ.get("LLMSPEC_CACHE"):
        return Path(os.environ["LLMSPEC_CACHE"]).expanduser().resolve()
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "llmspec" / "Cache"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache") / "llmspec"


def is_builtin(ref: str | None) -> bool:
    return ref is not None and ref.startswith(PREFIX)


def recipe_hash(name: str) -> str:
    """Hash of everything that determines the model's bytes (recipe, corpus generator, library majors)."""
    recipe = {"recipe": RECIPES[name], "version": _RECIPE_VERSION, "kb": [kb.VERSION, kb.SEED]}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def model_dir(name: str) -> Path:
    return cache_root() / "models" / f"{name}-{recipe_hash(name)}"


def resolve(ref: str, *, build_missing: bool = True, log=None) -> Path:
    """Path of the built model named by ``llmspec:<name>``; builds it first when missing."""
    name = ref[len(PREFIX):] if ref.startswith(PREFIX) else ref
    if name not in RECIPES:
        raise KeyError(f"unknown built-in model {ref!r}; known: {', '.join(PREFIX + n for n in RECIPES)}")
    path = model_dir(name)
    if build_missing and path.exists() and _corrupt(path, log):
        try:
            shutil.rmtree(path)
        except OSError as e:
            raise RuntimeError(f"{path}: the built model is corrupt and cannot be deleted ({e.strerror or e}); "
                               f"delete the folder and run again") from None
    if not (path / "model.safetensors").is_file() and build_missing:
        build(name, log=log)
    return path


def _corrupt(path: Path, log) -> bool:
    """Whether a built model folder is incomplete or damaged (a truncated model.safetensors, a missing file)."""
    from llmspec.eval.integrity import safetensors_problem

    needed = ("model.safetensors", "config.json", "tokenizer.json", "llmspec-recipe.json")
    missing = [n for n in needed if not (path / n).is_file()]
    problem = f"missing {', '.join(missing)}" if missing else safetensors_problem(path / "model.safetensors")
    if problem and log:
        log(f"warning: {path} is corrupt ({problem}); rebuilding it")
    return problem is not None


def _train_tokenizer(out: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=_TOKENIZER["vocab_size"], min_frequency=_TOKENIZER["min_frequency"],
        special_tokens=[EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(kb.training_text().splitlines(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=EOS, eos_token=EOS, unk_token=EOS,
        model_input_names=["input_ids", "attention_mask"],
    )
    fast.model_max_length = _ARCH["n_positions"]
    fast.save_pretrained(str(out))
    # transformers 5 records its own TokenizersBackend class, which transformers 4 cannot load (NOTES.md)
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["tokenizer_class"] = "PreTrainedTokenizerFast"
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def _make_model(seed: int):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(**_ARCH, bos_token_id=0, eos_token_id=0, tie_word_embeddings=True)
    return GPT2LMHeadModel(config)


def _train(model, tokenizer, train: dict, seed: int, log) -> None:
    """A short AdamW run with linear warmup and cosine decay over random windows of the corpus.

    Label smoothing (Szegedy et al. 2016, "Rethinking the Inception Architecture", sec. 7) keeps the tiny model
    from putting ~0 probability on wordings it never saw: without it, held-out perplexity rose during training
    while the training loss fell (measured on a validation wording, not on the smoke suite)."""
    import math

    import torch

    ids = tokenizer(kb.training_text(), verbose=False)["input_ids"]
    data = torch.tensor(ids, dtype=torch.long)
    seq, bs, steps = train["seq_len"], train["batch_size"], train["steps"]
    gen = torch.Generator().manual_seed(seed + 1)
    opt = torch.optim.AdamW(model.parameters(), lr=train["lr"], weight_decay=train["weight_decay"])

    def lr_at(step: int) -> float:  # linear warmup, then cosine to 10% (nanoGPT's schedule)
        if step < train["warmup"]:
            return (step + 1) / train["warmup"]
        progress = (step - train["warmup"]) / max(1, steps - train["warmup"])
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    model.train()
    for step in range(steps):
        starts = torch.randint(0, len(data) - seq - 1, (bs,), generator=gen)
        batch = torch.stack([data[s: s + seq] for s in starts.tolist()])
        logits = model(input_ids=batch).logits[:, :-1]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1),
                                                 label_smoothing=train["label_smoothing"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if log and (step % 50 == 0 or step == steps - 1):
            log(f"  step {step + 1}/{steps}  loss {loss.item():.3f}")
    model.eval()


def build(name: str, *, log=None) -> Path:
    """Build ``name`` into its cache directory (atomically: a temp dir renamed into place)."""
    import torch
    from transformers import PreTrainedTokenizerFast

    recipe = RECIPES[name]
    target = model_dir(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        torch.set_num_threads(1)  # one thread is 10-50x faster for a tiny model on shared cores (NOTES.md)
        torch.use_deterministic_algorithms(True)
        if log:
            log(f"building {PREFIX}{name} into {target}")
        _train_tokenizer(tmp)
        model = _make_model(recipe["seed"])
        if recipe["train"]:
            tokenizer = PreTrainedTokenizerFast.from_pretrained(str(tmp))
            _train(model, tokenizer, recipe["train"], recipe["seed"], log)
        model.save_pretrained(str(tmp), safe_serialization=True)
        (tmp / "llmspec-recipe.json").write_text(json.dumps(
            {"name": name, "hash": recipe_hash(name), "recipe": recipe}, indent=2, sort_keys=True) + "\n")
        tmp.chmod(0o755)
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first: keep theirs (same recipe, same bytes)
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
