"""The key locator (llmspec.spec.source): positions in tricky TOML, and duplicate detection."""

from __future__ import annotations

import pytest

# -- the key locator ----------------------------------------------------------------------------------------
TRICKY = '''\
# [model] in a comment, name = "no"
"quoted key" = 1
[model]   # trailing comment
name = """multi
[line] = string"""
"family" = 'lit'
extra.n_layers = 2
[model.architecture]
d_model = 64  # n_heads = 99
  n_heads = 4
ffn_dim = 128
vocab_size = 1000
context_length = 256
moe = { n_experts = 8, experts_per_token = 2 }
[[eval.gates]]
metric = "a/b"
min = 1
[[eval.gates]]
metric = "a/c"
max = [1,
  2]
[eval.gates.extra]
x = 1
[training]
lora.targets = ["q", "v"]
'''


def test_scan_positions_in_tricky_toml() -> None:
    import tomllib

    from llmspec.spec.source import scan

    tomllib.loads(TRICKY)  # the document is valid TOML
    found = scan(TRICKY)
    assert found[("quoted key",)] == (2, 1)
    assert found[("model",)] == (3, 2)
    assert found[("model", "name")] == (4, 1)
    assert found[("model", "family")] == (6, 1)
    assert found[("model", "extra", "n_layers")] == (7, 1)
    assert found[("model", "architecture", "d_model")] == (9, 1)
    assert found[("model", "architecture", "n_heads")] == (10, 3)
    assert found[("model", "architecture", "moe", "experts_per_token")] == (14, 24)
    assert found[("eval", "gates", 0, "min")] == (17, 1)
    assert found[("eval", "gates", 1)] == (18, 3)
    assert found[("eval", "gates", 1, "max", 1)] == (21, 3)
    assert found[("eval", "gates", 1, "extra", "x")] == (23, 1)  # a sub-table of the latest [[eval.gates]]
    assert found[("training", "lora", "targets", 1)] == (25, 22)
    assert ("line",) not in found and ("model", "line") not in found  # inside a multi-line string


def test_scan_survives_unterminated_input() -> None:
    from llmspec.spec.source import first_duplicate, scan

    for text in ['x = "abc', "x = '''abc", "[a", "x = [1, {", 'a."b', "= = =", "[[", "\\", '"""']:
        scan(text)
        first_duplicate(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a = 1\na = 2\n", (("a",), 2, 1, ("a",))),
        ("[t]\nx = 1\n[t]\n", (("t",), 3, 2, ("t",))),
        ("a = 1\na.b = 2\n", (("a", "b"), 2, 1, ("a",))),
        ("a = {x = 1}\n[a]\n", (("a",), 2, 2, ("a",))),
        ("[[g]]\nm = 1\n[[g]]\nm = 1\nm = 2\n", (("g", 1, "m"), 5, 1, ("g", 1, "m"))),
        ("m = { a = 1, b = { c = 1 } }\n", None),  # inline tables are values, not conflicts
        ("[a.b]\nc = 1\n[a]\nd = 1\n", None),  # a super-table after its sub-table is valid TOML
        ("[[g]]\nm = 1\n[[g]]\nm = 1\n", None),
    ],
)
def test_first_duplicate(text: str, expected) -> None:
    from llmspec.spec.source import first_duplicate

    assert first_duplicate(text) == expected
