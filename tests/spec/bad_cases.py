"""The table of bad inputs for `llmspec check`: files to write, arguments, and the EXACT lines expected.

Each case writes its files into a fresh temporary directory, runs `llmspec check ARGS` there (so paths print
relative), and expects exit 2 with exactly these lines. ``{tmp}`` in an argument or an expected line is the
temporary directory. Files are text, or bytes for encodings and binary junk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spec_helpers import MINIMAL

HF = '[model]\nname = "x"\nhf_config = "c.json"\n'  # a valid [model] header: 3 lines, architecture from c.json
LLAMA_JSON = (
    '{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4, '
    '"num_hidden_layers": 2, "vocab_size": 1000, "max_position_embeddings": 256}'
)


@dataclass
class Case:
    id: str
    files: dict[str, str | bytes]
    expected: list[str]
    args: list[str] = field(default_factory=lambda: ["spec.toml"])


CASES = [
    # -- reading the file -------------------------------------------------------------------------------
    Case("missing-file", {}, ["nope.toml:1:1: nope.toml: no such file"], ["nope.toml"]),
    Case("directory", {"sub/x.toml": MINIMAL}, ["sub:1:1: sub: is a directory, not a file; name a .toml file"], ["sub"]),
    Case("empty", {"spec.toml": ""}, ["spec.toml:1:1: file is empty; a spec needs at least a [model] table"]),
    Case("whitespace-only", {"spec.toml": "\n  \n\t\n"}, ["spec.toml:1:1: file is empty; a spec needs at least a [model] table"]),
    Case("binary-junk", {"spec.toml": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"},
         ["spec.toml:1:1: not UTF-8 text (byte 0x89); save the file as UTF-8"]),
    Case("nul-byte", {"spec.toml": b'[model]\nname = "a\x00b"\n'},
         ["spec.toml:2:10: binary data (a NUL byte); a TOML file is UTF-8 text"]),
    Case("latin-1", {"spec.toml": '[model]\nname = "café"\n'.encode("latin-1")},
         ["spec.toml:2:12: not UTF-8 text (byte 0xe9); save the file as UTF-8"]),
    Case("utf-16", {"spec.toml": MINIMAL.encode("utf-16")},
         ["spec.toml:1:1: not UTF-8 text (byte 0xff); save the file as UTF-8"]),
    # -- TOML syntax ------------------------------------------------------------------------------------
    Case("malformed-header", {"spec.toml": '[model\nname = "x"\n'},
         ["spec.toml:1:7: invalid TOML: expected ']' at the end of a table declaration"]),
    Case("unterminated-string", {"spec.toml": 'x = """abc'}, ["spec.toml:1:11: invalid TOML: unterminated string"]),
    Case("missing-value", {"spec.toml": "[model]\nname =\n"}, ["spec.toml:2:7: invalid TOML: invalid value"]),
    Case("duplicate-key", {"spec.toml": MINIMAL + "n_layers = 4\n"},
         ["spec.toml:11:1: invalid TOML: key 'model.architecture.n_layers' is defined twice"]),
    Case("duplicate-table", {"spec.toml": MINIMAL + '[model]\nname = "y"\n'},
         ["spec.toml:11:2: invalid TOML: table [model] is declared twice"]),
    Case("value-then-subkey", {"spec.toml": "a = 1\na.b = 2\n"},
         ["spec.toml:2:1: invalid TOML: 'a.b' extends 'a', which is already set to a value"]),
    Case("duplicate-in-2nd-gate",
         {"spec.toml": MINIMAL + '[[eval.gates]]\nmetric = "a/b"\nmin = 1\n[[eval.gates]]\nmetric = "a/c"\nmin = 1\nmin = 2\n'},
         ["spec.toml:17:1: invalid TOML: key 'eval.gates[1].min' is defined twice"]),
    Case("deeply-nested-arrays", {"spec.toml": "x = " + "[" * 5000 + "]" * 5000 + "\n"},
         ["spec.toml:1:1: invalid TOML: nesting is too deep"]),
    Case("deeply-nested-inline-tables", {"spec.toml": "x = " + "{a=" * 3000 + "1" + "}" * 3000 + "\n"},
         ["spec.toml:1:1: invalid TOML: nesting is too deep"]),
    Case("nested-arrays-tomllib-accepts", {"spec.toml": MINIMAL + "[meta]\ntags = " + "[" * 300 + "]" * 300 + "\n"},
         ["spec.toml:12:1: nesting is deeper than 64 tables and arrays; a spec nests a few levels (e.g. eval.gates[0].min)"]),
    Case("too-large", {"spec.toml": '[model]\nname = "' + "x" * (5 * 2**20) + '"\n'},
         ["spec.toml:1:1: spec.toml: file is larger than 4 MiB (the limit for a TOML file); is it the right file?"]),
    # -- types, ranges, literals ------------------------------------------------------------------------
    Case("wrong-types", {"spec.toml": HF + '[training]\nepochs = "three"\nactivation_checkpointing = 2\nseed = 1.5\n'
                         + "[sampling]\nstop = \"</s>\"\n", "c.json": LLAMA_JSON},
         ["spec.toml:5:1: training.epochs: expected a number, got 'three'",
          "spec.toml:6:1: training.activation_checkpointing: expected true or false, got 2",
          "spec.toml:7:1: training.seed: expected a whole number, got 1.5",
          "spec.toml:9:1: sampling.stop: expected an array, got '</s>'"]),
    # pydantic's lax mode reads the strings "yes" / "3" as true / 3; a TOML spec has real booleans and numbers.
    # Spine request: strict=True in llmspec.spec.types.Strict.model_config (see the xfail in test_bad_inputs.py).
    Case("string-for-bool-and-number", {"spec.toml": HF + '[training]\nactivation_checkpointing = "yes"\nepochs = "3"\n',
                                        "c.json": LLAMA_JSON},
         ["spec.toml:5:1: training.activation_checkpointing: expected true or false, got 'yes'",
          "spec.toml:6:1: training.epochs: expected a number, got '3'"]),
    Case("negative-numbers", {"spec.toml": HF + "[training]\nlearning_rate = -1\nmicro_batch_size = 0\ndataset_tokens = -5\n",
                              "c.json": LLAMA_JSON},
         ["spec.toml:5:1: training.learning_rate: -1 is out of range; it must be > 0.0",
          "spec.toml:6:1: training.micro_batch_size: 0 is out of range; it must be >= 1",
          "spec.toml:7:1: training.dataset_tokens: count must not be negative, got -5"]),
    Case("absurd-numbers", {"spec.toml": MINIMAL.replace("n_layers = 2", "n_layers = 1e30")
                            .replace("vocab_size = 1000", "vocab_size = 999_999_999_999")
                            + "[training]\nepochs = 1e9\n"},
         ["spec.toml:5:1: model.architecture.n_layers: 1e+30 is far too large; write a realistic whole number",
          "spec.toml:9:1: model.architecture.vocab_size: 999999999999 is out of range; it must be <= 10000000",
          "spec.toml:12:1: training.epochs: 1000000000.0 is out of range; it must be <= 100000.0"]),
    Case("nan", {"spec.toml": HF + "[training]\nlearning_rate = nan\n", "c.json": LLAMA_JSON},
         ["spec.toml:5:1: training.learning_rate: nan is not allowed; write a finite number"]),
    Case("inf", {"spec.toml": HF + "[sampling]\ntemperature = inf\n[training]\nepochs = -inf\n", "c.json": LLAMA_JSON},
         ["spec.toml:5:1: sampling.temperature: inf is not allowed; write a finite number",
          "spec.toml:7:1: training.epochs: -inf is not allowed; write a finite number"]),
    Case("bad-literal", {"spec.toml": HF + '[training]\nmethod = "qlroa"\n', "c.json": LLAMA_JSON},
         ["spec.toml:5:1: training.method: 'qlroa' is not one of 'pretrain', 'full', 'lora', 'qlora'; did you mean 'qlora'?"]),
    Case("malformed-size", {"spec.toml": MINIMAL.replace('name = "tiny"', 'name = "tiny"\nparameters = "40Q"')
                            + '[hardware]\nmemory = "80 gigs"\n'},
         ["spec.toml:3:1: model.parameters: cannot read '40Q' as a count; write a number or a number with K, M, B or T, e.g. \"40M\"",
          "spec.toml:13:1: hardware.memory: cannot read '80 gigs' as a memory size; write e.g. \"80GiB\", \"24GB\" or a number of bytes"]),
    Case("zero-memory", {"spec.toml": MINIMAL + '[hardware]\nmemory = 0\n'},
         ["spec.toml:12:1: hardware.memory: 0 is out of range; it must be > 0"]),
    Case("unknown-key-did-you-mean", {"spec.toml": HF + "[training]\nepoch = 3\nlearning_rte = 1e-4\n", "c.json": LLAMA_JSON},
         ["spec.toml:5:1: unknown key 'epoch' in [training]; did you mean 'epochs'?",
          "spec.toml:6:1: unknown key 'learning_rte' in [training]; did you mean 'learning_rate'?"]),
    Case("unknown-top-level-table", {"spec.toml": MINIMAL + "[trainign]\nepochs = 1\n"},
         ["spec.toml:11:2: unknown key 'trainign' in the top level; did you mean 'training'?"]),
    Case("unknown-accelerator", {"spec.toml": MINIMAL + '[hardware]\naccelerator = "A100-80"\n'},
         ["spec.toml:12:1: hardware.accelerator: unknown accelerator 'A100-80'; did you mean 'A100-80GB' or 'A100-40GB' or "
          "'A100'? (`llmspec accelerators` lists the catalog; add others under [accelerators] in llmspec.toml)"]),
    Case("missing-model", {"spec.toml": "version = 1\n[training]\nepochs = 1\n"},
         ["spec.toml:1:1: missing required table [model]"]),
    Case("model-without-architecture", {"spec.toml": '[model]\nname = "x"\n'},
         ['spec.toml:1:2: model: [model] needs either a [model.architecture] table or hf_config = "path/to/config.json"']),
    Case("missing-required-key", {"spec.toml": MINIMAL.replace("ffn_dim = 128\n", "")},
         ["spec.toml:4:2: missing required key 'ffn_dim' in [model.architecture]"]),
    Case("model-as-array-of-tables", {"spec.toml": '[[model]]\nname = "x"\n'},
         ["spec.toml:1:3: model: expected a table, got an array of tables"]),
    Case("unsupported-version", {"spec.toml": "version = 2\n" + MINIMAL},
         ["spec.toml:1:1: version: spec format version 2 is not supported; this llmspec reads version 1 "
          "(upgrade llmspec, or set version = 1)"]),
    Case("inside-inline-table", {"spec.toml": MINIMAL + "moe = { n_experts = 8, experts_per_tokn = 2 }\n"},
         ["spec.toml:11:1: missing required key 'experts_per_token' in [model.architecture.moe]",
          "spec.toml:11:24: unknown key 'experts_per_tokn' in [model.architecture.moe]; did you mean 'experts_per_token'?"]),
    Case("inside-2nd-gate",
         {"spec.toml": MINIMAL + '[[eval.gates]]\nmetric = "qa/f1"\nmin = 0.5\n[[eval.gates]]\nmetric = "nometric"\nmin = "high"\n'},
         ['spec.toml:15:1: eval.gates[1].metric: \'nometric\' should be "task/metric", e.g. "support_qa/f1"',
          "spec.toml:16:1: eval.gates[1].min: expected a number, got 'high'"]),
    Case("several-problems-in-file-order",
         {"spec.toml": '[hardware]\naccelerator = "Quantum-Abacus"\ncount = 0\n[training]\nepochs = 0\n[model]\nname = ""\n'
                       'hf_config = "missing.json"\n'},
         ["spec.toml:2:1: hardware.accelerator: unknown accelerator 'Quantum-Abacus' (`llmspec accelerators` lists the catalog; "
          "add others under [accelerators] in llmspec.toml)",
          "spec.toml:3:1: hardware.count: 0 is out of range; it must be >= 1",
          "spec.toml:5:1: training.epochs: 0 is out of range; it must be > 0.0",
          "spec.toml:7:1: model.name: '': string should have at least 1 character",
          "spec.toml:8:1: model.hf_config: 'missing.json' not found (relative to spec.toml)"]),
    # -- hf_config ----------------------------------------------------------------------------------------
    Case("hf-config-not-json", {"spec.toml": HF, "c.json": "{not json"},
         ["spec.toml:3:1: model.hf_config: cannot read 'c.json' as a config.json (Expecting property name enclosed in "
          "double quotes: line 1 column 2 (char 1))"]),
    # -- extends ------------------------------------------------------------------------------------------
    Case("extends-cycle", {"spec.toml": 'extends = "b.toml"\n' + MINIMAL, "b.toml": '\nextends = "spec.toml"\n' + MINIMAL},
         ["b.toml:2:1: extends cycle: spec.toml -> b.toml -> spec.toml; remove one of the extends keys"]),
    Case("extends-self", {"spec.toml": 'extends = "spec.toml"\n' + MINIMAL},
         ["spec.toml:1:1: extends cycle: spec.toml -> spec.toml; remove one of the extends keys"]),
    Case("extends-missing-file", {"spec.toml": '# base\nextends = "base/nope.toml"\n' + MINIMAL},
         ["spec.toml:2:1: extends: base spec 'base/nope.toml' not found"]),
    Case("extends-not-a-spec", {"spec.toml": 'extends = "pyproject.toml"\n' + MINIMAL,
                                "pyproject.toml": '[project]\nname = "x"\n[tool.ruff]\nline-length = 100\n'},
         ["spec.toml:1:1: extends: 'pyproject.toml' is not an llmspec spec (no spec tables such as [model])"]),
    Case("extends-not-a-string", {"spec.toml": "extends = 3\n" + MINIMAL},
         ['spec.toml:1:1: extends: expected a path to a base spec, e.g. extends = "base.toml"']),
    Case("extends-directory", {"spec.toml": 'extends = "base"\n' + MINIMAL, "base/x.toml": MINIMAL},
         ["spec.toml:1:1: extends: base: is a directory, not a file; name a .toml file"]),
    Case("extends-base-invalid", {"spec.toml": 'extends = "base.toml"\n[model]\nname = "child"\n',
                                  "base.toml": MINIMAL.replace("n_heads = 4", "n_heads = -4")},
         ["base.toml:7:1: model.architecture.n_heads: -4 is out of range; it must be >= 1"]),
    Case("extends-base-malformed", {"spec.toml": 'extends = "base.toml"\n', "base.toml": "[model\n"},
         ["base.toml:1:7: invalid TOML: expected ']' at the end of a table declaration"]),
    # -- --set --------------------------------------------------------------------------------------------
    Case("set-no-equals", {"spec.toml": MINIMAL},
         ["<--set training.epochs>:1:1: --set 'training.epochs': expected KEY=VALUE, e.g. --set training.epochs=2"],
         ["spec.toml", "--set", "training.epochs"]),
    Case("set-empty-key", {"spec.toml": MINIMAL},
         ["<--set =3>:1:1: --set '=3': expected KEY=VALUE, e.g. --set training.epochs=2"], ["spec.toml", "--set", "=3"]),
    Case("set-bad-key-path", {"spec.toml": MINIMAL},
         ["<--set training..epochs>:1:1: --set 'training..epochs=2': 'training..epochs' is not a key path; write dotted "
          "keys such as training.lora.rank"], ["spec.toml", "--set", "training..epochs=2"]),
    Case("set-through-a-value", {"spec.toml": MINIMAL},
         ["<--set model.name.x>:1:1: --set model.name.x: 'name' is not a table"], ["spec.toml", "--set", "model.name.x=1"]),
    Case("set-malformed-array", {"spec.toml": MINIMAL},
         ["<--set training.lora.targets>:1:1: --set 'training.lora.targets=[\"q\",': '[\"q\",' is not a valid TOML value "
          "(check brackets and quotes)"], ["spec.toml", "--set", 'training.lora.targets=["q",']),
    Case("set-wrong-type", {"spec.toml": MINIMAL},
         ["<--set training.epochs>:1:1: training.epochs: expected a number, got 'two'"],
         ["spec.toml", "--set", "training.epochs=two"]),
    Case("set-unknown-key", {"spec.toml": MINIMAL},
         ["<--set training.epoch>:1:1: unknown key 'epoch' in [training]; did you mean 'epochs'?"],
         ["spec.toml", "--set", "training.epoch=2"]),
    # -- several files: each reported, exit 2 if any fails --------------------------------------------------
    Case("good-and-bad", {"good.toml": MINIMAL, "spec.toml": "[model\n"},
         ["good.toml: ok", "spec.toml:1:7: invalid TOML: expected ']' at the end of a table declaration"],
         ["good.toml", "spec.toml"]),
]
