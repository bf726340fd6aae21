"""The shipped examples lint as documented: each mistake an example was written to show is found, with a fix,
and the examples meant as good practice have no error-level finding."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmspec.lint.engine import Options, lint_paths

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

# example -> codes it must produce (the point of the example)
EXPECTED = {
    "llama3-70b-full-fsdp-8xh100.toml": {"MEM001"},           # does not fit as written
    "pretrain-7b-repeated-data.toml": {"OVF001"},             # 12 epochs of repeated data
    "llama3-70b-int8-serving-2xh100.toml": set(),  # fits: vLLM prefills max_num_batched_tokens per step (issue 12)
    "llama2-7b-lora-a100.toml": set(),
    "llama3-8b-qlora-rtx4090.toml": set(),
    "tiny-base.toml": set(),
    "tiny-finetuned.toml": set(),
}
NO_ERRORS = {"llama2-7b-lora-a100.toml", "llama3-8b-qlora-rtx4090.toml", "llama3-70b-int8-serving-2xh100.toml",
             "tiny-base.toml", "tiny-finetuned.toml"}


@pytest.fixture(scope="module")
def findings():
    result = lint_paths([str(EXAMPLES)], Options())
    by_file: dict[str, list] = {}
    for f in result.findings:
        by_file.setdefault(Path(f.file).name, []).append(f)
    return result, by_file


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_codes(findings, name):
    result, by_file = findings
    assert any(Path(p).name == name for p in result.files)
    found = by_file.get(name, [])
    assert EXPECTED[name] <= {f.code for f in found}, [f"{f.code} {f.message}" for f in found]
    if name in NO_ERRORS:
        assert not [f for f in found if f.severity == "error"], [f"{f.code} {f.message}" for f in found]
    assert not [f for f in found if f.code.startswith(("SPC", "LNT"))]


def test_memory_finding_gives_numbers_and_a_fix(findings):
    _, by_file = findings
    (mem,) = [f for f in by_file["llama3-70b-full-fsdp-8xh100.toml"] if f.code == "MEM001"]
    assert "GiB per GPU" in mem.message and "H100-SXM has 79.6 GiB" in mem.message
    assert mem.fix
    (ovf,) = [f for f in by_file["pretrain-7b-repeated-data.toml"] if f.code == "OVF001"]
    assert "D' = " in ovf.message and "R* = 15.4" in ovf.message
