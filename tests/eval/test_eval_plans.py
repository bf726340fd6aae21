"""Plans for multi-GPU specs: the dry run prints them, and their model arguments are accepted by lm-eval's own
backend constructors and command-line parser. No GPU exists here, so these plans are checked, not run."""

from __future__ import annotations

import ast
import inspect
import shlex
from pathlib import Path

import pytest
from eval_helpers import run_llmspec

pytestmark = pytest.mark.eval

BIG = """
[model]
name = "llama-2-70b"
weights = "meta-llama/Llama-2-70b-hf"
[model.architecture]
n_layers = 80
d_model = 8192
n_heads = 64
n_kv_heads = 8
ffn_dim = 28672
vocab_size = 32000
context_length = 4096
[inference]
precision = "bf16"
[hardware]
accelerator = "A100-80GB"
count = 8
[eval]
suites = ["standard"]
"""
SMALL = BIG.replace("n_layers = 80", "n_layers = 32").replace("d_model = 8192", "d_model = 4096") \
    .replace("n_heads = 64", "n_heads = 32").replace("ffn_dim = 28672", "ffn_dim = 11008") \
    .replace("llama-2-70b", "llama-2-7b").replace("Llama-2-70b-hf", "Llama-2-7b-hf")
VLLM = BIG.replace('suites = ["standard"]', 'suites = ["standard"]\nbackend = "vllm"\ntensor_parallel = 4')


def _spec(tmp_path: Path, text: str, name: str = "spec.toml"):
    from llmspec.spec.loader import load_spec

    path = tmp_path / name
    path.write_text(text)
    return path, load_spec(path)


def _named_params(fn) -> set[str]:
    return {p.name for p in inspect.signature(fn).parameters.values()
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "self"}


def _vllm_params() -> set[str]:
    """VLLM.__init__'s named parameters, read with ast: vllm itself is not installed here."""
    import lm_eval

    src = Path(lm_eval.__file__).parent / "models" / "vllm_causallms.py"
    tree = ast.parse(src.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "VLLM":
            init = next(n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
            return {a.arg for a in init.args.args + init.args.kwonlyargs if a.arg != "self"}
    raise AssertionError("no VLLM class in lm_eval/models/vllm_causallms.py")


def _parse_lm_eval_cli(cmd: list[str]):
    """Parse an lm-eval command line with lm-eval's own argparse parser (after an accelerate prefix)."""
    from lm_eval._cli.harness import HarnessCLI

    if cmd[0] == "accelerate":
        cmd = cmd[cmd.index("lm_eval"):]
    assert cmd[0] == "lm_eval"
    return HarnessCLI()._parser.parse_args(cmd[1:])


def _model_args_dict(s) -> dict:
    """lm-eval's CLI parser already turns --model_args into a dict; older versions keep the string."""
    from lm_eval.utils import simple_parse_args_string

    return s if isinstance(s, dict) else simple_parse_args_string(s)


def test_big_model_is_split_with_parallelize(tmp_path):
    from lm_eval.models.huggingface import HFLM

    from llmspec.eval.plan import make_plan

    _, spec = _spec(tmp_path, BIG)
    plan = make_plan(spec, "meta-llama/Llama-2-70b-hf", gpu_memory=80 * 10**9)
    assert plan.kind == "hf-parallelize" and plan.model_args["parallelize"] is True
    assert set(plan.model_args) <= _named_params(HFLM.__init__)
    args = _parse_lm_eval_cli(plan.command(["wikitext"], [], "out"))
    assert _model_args_dict(args.model_args) == {k: v for k, v in plan.model_args.items() if k != "device"}
    assert args.model == "hf" and args.tasks == ["wikitext"]


def test_data_parallel_plan_is_an_accelerate_launch(tmp_path):
    from lm_eval.models.huggingface import HFLM

    from llmspec.eval.plan import make_plan

    _, spec = _spec(tmp_path, SMALL)
    plan = make_plan(spec, "meta-llama/Llama-2-7b-hf", gpu_memory=80 * 10**9)
    assert plan.kind == "accelerate" and plan.data_parallel == 8 and not plan.in_process
    cmd = plan.command(["hellaswag", "arc_easy"], [], "out")
    assert cmd[:6] == ["accelerate", "launch", "--multi_gpu", "--num_processes", "8", "-m"]
    args = _parse_lm_eval_cli(cmd)
    assert set(_model_args_dict(args.model_args)) <= _named_params(HFLM.__init__)
    assert args.batch_size == "auto"


def test_vllm_plan_uses_tensor_and_data_parallel(tmp_path):
    from llmspec.eval.plan import make_plan

    _, spec = _spec(tmp_path, VLLM)
    plan = make_plan(spec, "meta-llama/Llama-2-70b-hf", gpu_memory=80 * 10**9)
    assert plan.kind == "vllm"
    assert plan.model_args["tensor_parallel_size"] == 4 and plan.model_args["data_parallel_size"] == 2
    assert set(plan.model_args) <= _vllm_params()
    args = _parse_lm_eval_cli(plan.command(["wikitext"], [], "out"))
    assert args.model == "vllm"
    assert _model_args_dict(args.model_args)["tensor_parallel_size"] == 4


def test_cpu_plan_matches_hflm_signature(tmp_path):
    from lm_eval.models.huggingface import HFLM

    from llmspec.eval.plan import make_plan

    _, spec = _spec(tmp_path, SMALL)
    plan = make_plan(spec, "x", device="cpu")
    assert plan.kind == "hf" and plan.device == "cpu" and plan.batch_size == 1 and plan.gpus == 0
    assert plan.model_args == {"pretrained": "x", "dtype": "bfloat16", "device": "cpu"}
    assert set(plan.model_args) <= _named_params(HFLM.__init__)


def test_trust_remote_code_and_adapter_reach_the_constructor(tmp_path):
    from lm_eval.models.huggingface import HFLM

    from llmspec.eval.plan import make_plan

    _, spec = _spec(tmp_path, SMALL)
    plan = make_plan(spec, "x", device="cpu", adapter="/a", trust_remote_code=True)
    assert plan.model_args["peft"] == "/a" and plan.model_args["trust_remote_code"] is True
    assert set(plan.model_args) <= _named_params(HFLM.__init__)
    assert "trust_remote_code" not in make_plan(spec, "x", device="cpu").model_args


@pytest.mark.slow
def test_dry_run_prints_the_plans_and_resolves_standard_task_names(tmp_path):
    """The standard suite's task names resolve offline through lm-eval's TaskManager (no dataset download)."""
    for text, expect in ((BIG, "plan: hf-parallelize on cuda (8 GPUs)"), (SMALL, "command: accelerate launch"),
                         (VLLM, "lm_eval.models.vllm_causallms.VLLM(")):
        path, _ = _spec(tmp_path, text)
        run = run_llmspec("eval", str(path), "--dry-run")
        assert run.code == 0, run.stderr
        assert expect in run.stdout
        assert "wikitext" in run.stdout and "drop" in run.stdout
        line = next(line for line in run.stdout.splitlines() if "lm_eval" in line and "run" in line)
        cmd = shlex.split(line.split(": ", 1)[1])
        _parse_lm_eval_cli(cmd)


def test_standard_suite_names_are_lm_eval_tasks():
    from lm_eval.tasks import TaskManager

    from llmspec.eval.suite import find_suite, load_suite

    suite = load_suite(find_suite("standard"))
    names = [t.task for t in suite.tasks]
    assert names == ["wikitext", "hellaswag", "arc_easy", "drop"]
    tm = TaskManager(include_defaults=True)
    assert set(names) <= set(tm.all_subtasks)
    # drop's F1 is computed by lm-eval itself (tasks/drop/utils.py), not by evaluate.load from the hub
    src = (Path(inspect.getfile(TaskManager)).parent / "drop" / "utils.py").read_text()
    assert "def f1" in src or "_compute_f1" in src
    assert "evaluate.load" not in src


def test_response_cache_is_keyed_by_what_changes_answers(tmp_path):
    """lm-eval's cached answers are keyed by the request only, so llmspec's cache folder must hold everything else
    that changes an answer: a batch-1 run's answers were served to a batch-8 run (padding changes the logits)."""
    from llmspec.eval.plan import make_plan

    def identity(extra: str, model: str = "/models/a") -> tuple:
        _, spec = _spec(tmp_path, SMALL.replace('suites = ["standard"]', f'suites = ["standard"]\n{extra}'))
        return make_plan(spec, model, device="cpu").answer_identity()

    one = identity("batch_size = 1")
    assert one == identity("batch_size = 1")
    assert one == identity("batch_size = 1", model="/models/moved")  # model files are keyed by content, not path
    assert one != identity("batch_size = 8")
    _, spec = _spec(tmp_path, SMALL)
    plan = make_plan(spec, "/models/a", device="cpu")
    plan.model_args["max_length"] = 512
    assert plan.answer_identity() != one
