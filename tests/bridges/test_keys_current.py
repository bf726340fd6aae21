"""The TRL key list llmspec checks configs against is the one the installed TRL's parser accepts: regenerated here
with the committed script (scripts/bridges_keys.py), compared with the committed file. The other tools' lists need
their own venvs; the peer-parser tests check configs with those tools' real parsers instead."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_trl_keys_match_the_installed_trl():
    pytest.importorskip("trl", reason="the trl extra is not installed")
    spec = importlib.util.spec_from_file_location("bridges_keys", ROOT / "scripts" / "bridges_keys.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bridges_keys"] = module
    spec.loader.exec_module(module)
    header, keys = module.trl_keys()
    committed = (ROOT / "llmspec" / "data" / "bridges" / "trl_keys.txt").read_text(encoding="utf-8").splitlines()
    assert committed[0] == f"# {header} (scripts/bridges_keys.py)", "regenerate: python scripts/bridges_keys.py trl"
    assert committed[1:] == keys, "regenerate: python scripts/bridges_keys.py trl"
