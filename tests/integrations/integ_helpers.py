"""Real training runs of the tiny demo model (llmspec:tiny-base, built in $LLMSPEC_CACHE) on CPU with the llmspec
callbacks, and the real `llmspec` entry point. A few steps on 16 random sequences of 32 tokens: seconds of CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cli_run import Result, run_cli

__all__ = ["EXAMPLES", "SEQ", "SPEC", "SPEC_LIGHTNING", "SPEC_LORA", "Result", "run_cli", "train_hf", "train_lightning"]

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SPEC = Path(__file__).resolve().parents[2] / "examples" / "run-records" / "tiny-train.toml"
SPEC_LIGHTNING = FIXTURES / "tiny-train-lightning.toml"
SPEC_LORA = FIXTURES / "tiny-train-lora.toml"
SEQ, EXAMPLES = 32, 16


def _data():
    import torch

    g = torch.Generator().manual_seed(0)
    return [{"input_ids": torch.randint(0, 2048, (SEQ,), generator=g)} for _ in range(EXAMPLES)]


def _model():
    import torch
    from transformers import AutoModelForCausalLM

    from llmspec.eval import tinymodel

    torch.manual_seed(0)
    return AutoModelForCausalLM.from_pretrained(tinymodel.resolve("llmspec:tiny-base"))


def train_hf(output: Path, spec: Path = SPEC, on_mismatch: str = "warn", lora: dict | None = None, **args: Any):
    """A real HF Trainer run (CPU) with LlmspecCallback; ``args`` override the TrainingArguments that match SPEC;
    ``lora`` (peft LoraConfig arguments) trains adapters instead of every weight."""
    from transformers import Trainer, TrainingArguments

    from llmspec.integrations.hf_trainer import LlmspecCallback

    model = _model()
    if lora is not None:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(**lora))

    settings: dict[str, Any] = dict(max_steps=3, per_device_train_batch_size=4, learning_rate=1e-3, seed=0,
                                    lr_scheduler_type="linear", use_cpu=True, report_to=[], save_strategy="no",
                                    logging_strategy="no", disable_tqdm=True, dataloader_num_workers=0)
    settings.update(args)
    data = [{"input_ids": x["input_ids"], "labels": x["input_ids"]} for x in _data()]
    callback = LlmspecCallback(spec, output=output, on_mismatch=on_mismatch)  # type: ignore[arg-type]
    trainer = Trainer(model=model, args=TrainingArguments(output_dir=str(output.parent / "hf-out"), **settings),
                      train_dataset=data, callbacks=[callback])
    trainer.train()
    return callback


def train_lightning(output: Path, spec: Path = SPEC_LIGHTNING, **trainer_args: Any):
    """A real Lightning fit (CPU) of the transformers model inside a LightningModule, with the llmspec callback."""
    import lightning.pytorch as pl
    import torch

    from llmspec.integrations.lightning_callback import LlmspecLightningCallback

    class TinyLM(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = _model().train()  # from_pretrained returns it in eval mode

        def training_step(self, batch, batch_idx):
            return self.model(input_ids=batch["input_ids"], labels=batch["input_ids"]).loss

        def configure_optimizers(self):
            return torch.optim.AdamW(self.parameters(), lr=1e-3, weight_decay=0.0, fused=True)

    callback = LlmspecLightningCallback(spec, output=output)
    settings: dict[str, Any] = dict(accelerator="cpu", devices=1, max_steps=3, gradient_clip_val=1.0, logger=False,
                                    enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    settings.update(trainer_args)
    loader = torch.utils.data.DataLoader(_data(), batch_size=4)
    pl.Trainer(callbacks=[callback], **settings).fit(TinyLM(), loader)
    return callback
