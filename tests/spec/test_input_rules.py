"""Input rules (issue 11, finding 10): eval.seed range, `init` output, `--set`, extends through symlinks, empty
and unwritable outputs, positions of quoted keys with escapes."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from spec_helpers import EXAMPLES, MINIMAL, run_cli

from llmspec.spec.loader import SpecError, load_spec, parse_override

CONFIG = EXAMPLES / "configs" / "llama-3-8b.json"


def _problems(path: Path, overrides=()) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_spec(path, overrides)
    return [str(p) for p in info.value.problems]


# -- eval.seed ---------------------------------------------------------------------------------------------------
def test_eval_seed_is_bounded_to_what_lm_eval_accepts(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(MINIMAL + f'\n[eval]\nsuites = ["smoke"]\nseed = {2**64}\n')
    (line,) = _problems(spec)
    assert line.startswith(f"{spec}:14:1: eval.seed:") and "<= 4294967295" in line
    spec.write_text(MINIMAL + f'\n[eval]\nsuites = ["smoke"]\nseed = {2**32 - 1}\n')
    assert load_spec(spec).eval.seed == 2**32 - 1


def test_the_seed_bound_is_numpys():
    """lm-eval 0.4.13 seeds numpy with the seed llmspec passes (evaluator.simple_evaluate: np.random.seed)."""
    np = pytest.importorskip("numpy")
    np.random.seed(2**32 - 1)
    with pytest.raises(ValueError):
        np.random.seed(2**32)


# -- init writes valid TOML ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["a\x01b", "x\x7fy", 'q"\\', "line\nbreak", "tab\tand\u2028sep", "\x1b]0;title\x07"])
def test_init_name_with_control_characters_is_valid_toml(tmp_path, name):
    result = run_cli("init", "--from-hf", str(CONFIG), "--name", name)
    assert result.code == 0, result.err
    assert tomllib.loads(result.out)["model"]["name"] == name


def test_init_path_with_a_newline_injects_nothing(tmp_path):
    folder = tmp_path / 'ckpt\n[hardware]\naccelerator = "H100"\n#'
    folder.mkdir()
    (folder / "config.json").write_text(CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    result = run_cli("init", "--from-hf", str(folder), "--name", "x")
    assert result.code == 0, result.err
    data = tomllib.loads(result.out)
    assert "hardware" not in data and data["model"]["name"] == "x"


# -- --set -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("item, message", [
    ("training.epochs=2\n[hardware]", "more than one TOML value"),
    ("training.epochs=2\nmodel.name = 'x'", "more than one TOML value"),
    ("extends=base.toml", "extends cannot be overridden"),
    ("extends.x=1", "extends cannot be overridden"),
    ("model.name=a\nb", "line break"),
])
def test_set_takes_exactly_one_key_and_value(tmp_path, item, message):
    assert message in (parse_override(item)[2] or "")
    spec = tmp_path / "spec.toml"
    spec.write_text(MINIMAL)
    result = run_cli("check", "--set", item, str(spec))
    assert result.code == 2 and len(result.lines) == 1 and message in result.out, result


def test_set_still_takes_values_with_comments_and_strings():
    assert parse_override("training.epochs=2  # two") == ("training.epochs", 2, None)
    assert parse_override('model.name="""a\nb"""') == ("model.name", "a\nb", None)
    assert parse_override("model.name=my model") == ("model.name", "my model", None)


# -- extends through symlinks: from the real file's folder, always -------------------------------------------------
def test_extends_resolves_from_the_real_files_folder(tmp_path):
    real, other = tmp_path / "real", tmp_path / "other"
    real.mkdir()
    other.mkdir()
    (real / "base.toml").write_text('extends = "base2.toml"\n[training]\nepochs = 3\n')
    (real / "base2.toml").write_text('[training]\nlearning_rate = 1e-4\n')
    (other / "base.toml").write_text('[training]\nepochs = 9\n')  # the decoy beside the link
    (real / "spec.toml").write_text('extends = "base.toml"\n' + MINIMAL)
    (other / "link.toml").symlink_to(real / "spec.toml")
    (tmp_path / "base-link.toml").symlink_to(real / "base.toml")  # a linked base: its own extends, real folder
    direct, linked = load_spec(real / "spec.toml"), load_spec(other / "link.toml")
    assert direct.training.epochs == linked.training.epochs == 3
    assert linked.training.learning_rate == 1e-4
    (other / "spec2.toml").write_text('extends = "../base-link.toml"\n' + MINIMAL)
    assert load_spec(other / "spec2.toml").training.learning_rate == 1e-4


def test_hf_config_resolves_from_the_real_files_folder(tmp_path):
    real, other = tmp_path / "real", tmp_path / "other"
    real.mkdir()
    other.mkdir()
    (real / "config.json").write_text(CONFIG.read_text(encoding="utf-8"))
    (real / "spec.toml").write_text('[model]\nname = "x"\nhf_config = "config.json"\n')
    (other / "link.toml").symlink_to(real / "spec.toml")
    assert load_spec(other / "link.toml").model.architecture.n_layers == 32


# -- outputs -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["lint", "-o", "", "{spec}"],
    ["schema", "-o", ""],
    ["report", "-o", "", "{spec}"],
    ["diff", "-o", "", "{spec}", "{spec}"],
    ["init", "--from-hf", str(CONFIG), "-o", ""],
    ["eval", "--dry-run", "--output", "", "{spec}"],
])
def test_empty_output_is_an_error(tmp_path, args):
    spec = tmp_path / "spec.toml"
    spec.write_text(MINIMAL + '\n[eval]\nsuites = ["smoke"]\n')
    result = run_cli(*[a.format(spec=spec) for a in args], cwd=tmp_path)
    assert result.code == 2 and "empty" in result.err and "internal error" not in result.err, result
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.toml"]


@pytest.mark.parametrize("command", [["lint", "{spec}", "-o"], ["schema", "-o"]])
@pytest.mark.parametrize("target", ["file/under-a-file", "missing/deeper/../../file/x"])
def test_unwritable_output_is_one_line(tmp_path, command, target):
    spec = tmp_path / "spec.toml"
    spec.write_text(MINIMAL)
    (tmp_path / "file").write_text("")
    result = run_cli(*[a.format(spec=spec) for a in command], str(tmp_path / target))
    assert result.code == 2 and "internal error" not in result.err, result
    assert len(result.err.strip().splitlines()) == 1 and "cannot write" in result.err


# -- positions ---------------------------------------------------------------------------------------------------
def test_quoted_key_with_an_escape_is_reported_at_its_own_line(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(MINIMAL + '\n[training]\nmethod = "full"\n"ep\\u006fchs" = 0\n')
    (line,) = _problems(spec)
    assert line.startswith(f"{spec}:14:1: training.epochs:"), line
