"""`llmspec estimate --measure` printed the libraries' own warnings about how llmspec calls them (transformers'
FutureWarnings `past_key_values is deprecated`, `is_gradient_checkpointing is deprecated`; peft's UserWarning about
a tied adapter layer), found by the newcomer trial of the README. They are silenced where the measurement calls the
libraries, by category and message; any other warning still shows."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

pytestmark = [pytest.mark.eval, pytest.mark.slow]

SPEC = """[model]
name = "tiny"
family = "llama"

[model.architecture]
n_layers = 2
d_model = 64
n_heads = 4
n_kv_heads = 4
ffn_dim = 128
vocab_size = 256
context_length = 128
tie_embeddings = true

[training]
method = "lora"
micro_batch_size = 1
seq_len = 32

[training.lora]
targets = ["q_proj", "lm_head"]

[inference]
batch_size = 1
"""


def test_measure_prints_no_library_warnings(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("peft")
    spec = tmp_path / "tiny.toml"
    spec.write_text(SPEC, encoding="utf-8")
    code = "import sys; sys.argv = ['llmspec'] + sys.argv[1:]\nfrom llmspec.cli import main; main()"
    out = subprocess.run([sys.executable, "-W", "default", "-c", code, "estimate", str(spec), "--measure"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "measured" in out.stdout
    assert "Warning" not in out.stderr, out.stderr


def test_only_the_listed_warnings_are_silenced():
    from llmspec.estimate._measure_support import quiet_library_warnings

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with quiet_library_warnings():
            warnings.warn("`past_key_values` is deprecated and will be removed", FutureWarning, stacklevel=1)
            warnings.warn("`past_key_values` is deprecated and will be removed", UserWarning, stacklevel=1)
            warnings.warn("something else is deprecated", FutureWarning, stacklevel=1)
        warnings.warn("`past_key_values` is deprecated and will be removed", FutureWarning, stacklevel=1)
    assert [(w.category, str(w.message)) for w in seen] == [
        (UserWarning, "`past_key_values` is deprecated and will be removed"),
        (FutureWarning, "something else is deprecated"),
        (FutureWarning, "`past_key_values` is deprecated and will be removed"),
    ]
