"""The blind rounds of the per-family accuracy cases (benchmarks/family_blind.py): each round's rule, run again,
writes its committed case list byte for byte (no model is built), a list once frozen is never rewritten, and a
blind round runs once."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import family_blind  # noqa: E402


@pytest.mark.parametrize("n", family_blind.ROUNDS)
def test_each_rounds_rule_still_writes_its_frozen_list(n):
    frozen = family_blind.files(n).cases
    assert frozen.read_text(encoding="utf-8") == family_blind.frozen_text(n)


def test_freeze_writes_a_new_list_and_never_rewrites_a_frozen_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(family_blind, "HERE", tmp_path)
    frozen = family_blind.files(2).cases
    assert frozen.parent == tmp_path
    assert family_blind.main(["--freeze", "--round", "2"]) == 0
    assert frozen.read_text(encoding="utf-8") == family_blind.frozen_text(2)
    changed = json.loads(frozen.read_text(encoding="utf-8"))[1:]
    frozen.write_text(json.dumps(changed, indent=1) + "\n", encoding="utf-8")
    assert family_blind.main(["--freeze", "--round", "2"]) == 1
    assert family_blind.main(["--check", "--round", "2"]) == 1
    assert "never rewritten" in capsys.readouterr().err
    assert json.loads(frozen.read_text(encoding="utf-8")) == changed


def test_a_blind_round_that_has_run_is_not_run_again(capsys):
    assert family_blind.files(2).results.exists()
    assert family_blind.main(["--run", "--round", "2"]) == 1
    assert "has run once already" in capsys.readouterr().err


def test_a_round_that_is_not_frozen_cannot_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(family_blind, "HERE", tmp_path)
    assert family_blind.main(["--run", "--round", "2"]) == 1
    assert "not frozen yet" in capsys.readouterr().err
    assert not family_blind.files(2).results.exists()


def _signature(case: dict) -> tuple:
    """What a case runs, beside the checkpoint: mode, batch x tokens and the overrides other than the targets."""
    if "batch" in case:
        batch, seq = case["batch"], case["seq"]
    else:  # round 1 (family_cases.spec_text): 1 sequence; a prefill of twice the training tokens
        seq = 256 if case["size"] == "reduced" else 1024
        batch, seq = 1, (2 * seq if case["mode"] == "inference" else seq)
    overrides = frozenset(o for o in case["overrides"] if not o.startswith("training.lora.targets="))
    return case["mode"], batch, seq, overrides


def test_round_3_gives_every_family_each_new_set_up_at_a_shape_no_round_used():
    import family_blind_round3 as rule

    from llmspec.spec.families import FAMILIES

    cases = json.loads(family_blind.files(3).cases.read_text(encoding="utf-8"))
    assert sorted(c["id"] for c in cases) == sorted(f"{f}-{s}" for f in FAMILIES for s in rule.SETUPS)
    round1 = json.loads((BENCH / "memory_accuracy_cases.json").read_text(encoding="utf-8"))
    round2 = json.loads(family_blind.files(2).cases.read_text(encoding="utf-8"))
    shapes = {(c["preset"], 2 if c["size"] == "reduced" else 4) for c in round1} | {(c["preset"], 3) for c in round2}
    assert not {(c["preset"], c["blocks"]) for c in cases} & shapes
    assert not {_signature(c) for c in cases} & {_signature(c) for c in round1 + round2}
    for c in cases:
        assert c["seq"] <= rule.token_bound(c["preset"])
        if FAMILIES[c["family"]].moe is not None:  # the grouped expert kernel takes bf16 only on CPU
            assert not any(o.startswith("training.precision=") and "bf16" not in o for o in c["overrides"]), c
