"""A training function for the sweep demo and the engine tests: a few CPU steps of the project's tiny GPT-2.

``llmspec sweep run SPEC --train llmspec.sweep.demo:train_tiny`` trains ``llmspec:tiny-base`` (built offline
into $LLMSPEC_CACHE on first use) for training.max_steps steps with the trial's learning rate and micro-batch,
reports the held-out token perplexity every sweep.asha.min_resource steps (ASHA's rungs), saves the checkpoint
and returns the objective from `llmspec eval` on the validation suite. Needs the eval extra (torch,
transformers). One torch thread per trial: for a model this small, one thread is 10-50x faster on shared cores
(NOTES.md), and it is what Ray's OMP_NUM_THREADS=1 per trial gives.
"""

from __future__ import annotations

import shutil

from llmspec.sweep.trial import TrialRun


def train_tiny(run: TrialRun) -> float:
    import torch
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    from llmspec.eval import kb, tinymodel

    torch.set_num_threads(1)
    training = run.spec.training
    assert training is not None, "the demo trains: the spec needs [training]"
    base = tinymodel.resolve("llmspec:tiny-base")
    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(base))
    model = AutoModelForCausalLM.from_pretrained(str(base))
    seed = training.seed if training.seed is not None else run.number
    torch.manual_seed(seed)
    data = torch.tensor(tokenizer(kb.training_text(), verbose=False)["input_ids"], dtype=torch.long)
    held = [torch.tensor(tokenizer(d["text"], verbose=False)["input_ids"], dtype=torch.long)
            for d in kb.heldout_docs()]
    steps = training.max_steps or 12
    batch, seq = min(training.micro_batch_size, 16), min(training.seq_len, 128)
    optimizer = torch.optim.AdamW(model.parameters(), lr=training.learning_rate, weight_decay=training.weight_decay)
    rung = run.rung or max(1, steps // 3)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for step in range(1, steps + 1):
        starts = torch.randint(0, len(data) - seq - 1, (batch,), generator=gen).tolist()
        ids = torch.stack([data[s: s + seq] for s in starts])
        loss = model(input_ids=ids, labels=ids).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % rung == 0 or step == steps:
            run.report(step, _perplexity(model, held))
    model.save_pretrained(str(run.checkpoint), safe_serialization=True)
    tokenizer.save_pretrained(str(run.checkpoint))
    for name in ("tokenizer_config.json",):  # keep the PreTrainedTokenizerFast class record of the base model
        shutil.copyfile(base / name, run.checkpoint / name)
    return run.evaluate()


def _perplexity(model, docs) -> float:
    """Token perplexity on held-out documents (what ASHA compares between trials at a rung)."""
    import math

    import torch

    model.eval()
    with torch.no_grad():
        losses = [model(input_ids=d[None, :256], labels=d[None, :256]).loss.item() for d in docs]
    model.train()
    return math.exp(sum(losses) / len(losses))
