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
