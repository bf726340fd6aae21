"""The QLoRA note names the 4-bit format, its bits per weight and its scale block as the knobs set them (it used to
say "NF4 (4.5 bits)" whatever lora.quant_format and lora.quant_block were)."""

from __future__ import annotations

import pytest

from llmspec.estimate import training_memory
from tests.estimate.conftest import TINY


def _note(load, *sets: str) -> str:
    notes = training_memory(load(TINY, "training.method=qlora", *sets)).assumptions
    (note,) = [n for n in notes if n.startswith("QLoRA: block linears")]
    return note


@pytest.mark.parametrize(("sets", "says"), [
    ((), "NF4 (4.127 bits: scales per 64, double quantisation)"),
    (("training.lora.double_quant=false",), "NF4 (4.5 bits: scales per 64)"),
    (("training.lora.quant_block=128", "training.lora.double_quant=false"), "NF4 (4.25 bits: scales per 128)"),
    (("training.lora.quant_format=fp4",), "FP4 (4.127 bits: scales per 64, double quantisation)"),
    (("training.lora.quant_format=fp4", "training.lora.quant_block=256"),
     "FP4 (4.032 bits: scales per 256, double quantisation)"),
])
def test_qlora_note_follows_format_and_block(load, sets, says):
    assert says in _note(load, *sets)
