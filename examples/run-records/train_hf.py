"""Train the tiny demo model for three steps with the HF Trainer and the llmspec callback; write a run record.

    python examples/run-records/train_hf.py -o run-record.json [--batch-size 4] [--cpu]
    llmspec calibrate run-record.json

The spec beside this file says what the run should be (micro-batch 4, 32 tokens, fp32, AdamW, 3 steps). The
callback compares the Trainer's settings with it, one line per difference, and records what the run measured.
Needs the eval extra (torch, transformers); the model is built offline into the llmspec cache on first use.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

from llmspec.eval import tinymodel
from llmspec.integrations.hf_trainer import LlmspecCallback

SPEC = Path(__file__).resolve().parent / "tiny-train.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="run-record.json", help="where to write the run record")
    parser.add_argument("--batch-size", type=int, default=4, help="per-device batch size (the spec says 4)")
    parser.add_argument("--cpu", action="store_true", help="train on the CPU even when a GPU is present")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tinymodel.resolve("llmspec:tiny-base"))
    ids = torch.randint(0, model.config.vocab_size, (16, 32), generator=torch.Generator().manual_seed(0))
    data = [{"input_ids": row, "labels": row} for row in ids]  # 16 sequences of 32 tokens
    # the spec as a path relative to here, so that its messages name it the way you would type it
    callback = LlmspecCallback(os.path.relpath(SPEC), output=args.output, on_mismatch="warn")
    with tempfile.TemporaryDirectory() as scratch:  # the Trainer's output_dir; nothing is saved
        training = TrainingArguments(
            output_dir=scratch, max_steps=3, per_device_train_batch_size=args.batch_size, learning_rate=1e-3,
            lr_scheduler_type="linear", seed=0, use_cpu=args.cpu, report_to=[], save_strategy="no",
            logging_strategy="no", disable_tqdm=True, dataloader_pin_memory=torch.cuda.is_available() and not args.cpu,
        )
        Trainer(model=model, args=training, train_dataset=data, callbacks=[callback]).train()
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
