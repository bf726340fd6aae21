"""End to end: the README quickstart. The base model fails its gates, the fine-tuned one passes, and the three
reports are written and parse (JSON, JUnit XML, Markdown)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from llmspec.eval.results_schema import Results

pytestmark = [pytest.mark.eval, pytest.mark.slow]

GATES = ["kb_perplexity/word_perplexity", "kb_mc/acc", "kb_qa/f1", "kb_tickets/macro_f1"]


def test_base_model_fails_its_gates(demo_runs):
    run = demo_runs["tiny-base"]
    assert run.code == 1, run.stderr
    assert "llmspec eval: FAILED:" in run.stdout, run.stdout
    failed = [g["metric"] for g in run.results["gates"] if g["status"] == "fail"]
    assert failed, run.results["gates"]


def test_finetuned_model_passes_its_gates(demo_runs):
    run = demo_runs["tiny-finetuned"]
    assert run.code == 0, run.stdout + run.stderr
    assert run.stdout.startswith("llmspec eval: PASSED: all 4 gate checks passed"), run.stdout
    assert [g["status"] for g in run.results["gates"]] == ["pass"] * 4


def test_finetuning_improves_every_metric_family(demo_runs):
    base, ft = demo_runs["tiny-base"].results["tasks"], demo_runs["tiny-finetuned"].results["tasks"]
    for task, metric in (g.split("/") for g in GATES):
        b, f = base[task]["metrics"][metric], ft[task]["metrics"][metric]
        better = f["value"] > b["value"] if f["higher_is_better"] else f["value"] < b["value"]
        assert better, (task, metric, b["value"], f["value"])


@pytest.mark.parametrize("name", ["tiny-base", "tiny-finetuned"])
def test_results_json_has_provenance_metrics_and_samples(demo_runs, name):
    run = demo_runs[name]
    res = run.results
    assert res["schema_version"] == 1
    assert res["verdict"] == ("PASSED" if name == "tiny-finetuned" else "FAILED")  # what the exit code says
    Results.model_validate(res)  # written through its pydantic model
    prov = res["run"]
    assert prov["model"] == f"llmspec:{name}"
    assert prov["model_hash"].startswith("sha256:") and prov["spec_hash"].startswith("sha256:")
    assert prov["device"] == "cpu" and prov["dtype"] == "float32" and prov["batch_size"] == 32
    assert prov["seed"] == 1234 and prov["chat_template"] is False and prov["adapter"] is None
    assert set(prov["versions"]) >= {"llmspec", "lm_eval", "torch", "transformers"}
    assert prov["timings"]["total_s"] > 0
    assert set(res["tasks"]) == {"kb_perplexity", "kb_mc", "kb_qa", "kb_tickets"}
    for _task, entry in res["tasks"].items():
        p = entry["provenance"]
        assert p["task_version"] == "1.0" and p["config_hash"].startswith("sha256:") and p["num_fewshot"] == 0
        for key, metric in entry["metrics"].items():
            if metric.get("source") == "lm-eval":  # lm-eval's own figure, as it reported it
                assert "," in key and metric["value"] == entry["lm_eval"][key]
                assert not metric["per_sample"] or len(metric["per_sample"]) == metric["n"]
                continue
            assert metric["n"] == len(metric["per_sample"]) > 0
            assert metric["ci_low"] <= metric["value"] <= metric["ci_high"]
        lines = (run.out / entry["samples_file"]).read_text().splitlines()
        assert len(lines) == p["n_samples"]["effective"]
        assert "llmspec_doc_hash" in json.loads(lines[0])
    gen = res["tasks"]["kb_qa"]["generation"]
    assert gen["source"] == "task" and gen["kwargs"]["until"] == ["\n", "."]  # the YAML's own win over [sampling]


@pytest.mark.parametrize("name", ["tiny-base", "tiny-finetuned"])
def test_junit_has_one_testcase_per_gate(demo_runs, name):
    run = demo_runs[name]
    root = ET.parse(run.out / "junit.xml").getroot()
    cases = root.findall("./testsuite/testcase")
    assert [c.get("classname").rsplit(".", 1)[1] + "/" + c.get("name").split(" ")[0] for c in cases] == GATES
    failures = [c for c in cases if c.find("failure") is not None]
    assert len(failures) == int(root.find("testsuite").get("failures"))
    assert (len(failures) == 0) == (name == "tiny-finetuned")


@pytest.mark.parametrize("name", ["tiny-base", "tiny-finetuned"])
def test_summary_markdown_structure(demo_runs, name):
    text = (demo_runs[name].out / "summary.md").read_text()
    lines = text.splitlines()
    verdict = "PASSED" if name == "tiny-finetuned" else "FAILED"
    assert lines[0] == f"## llmspec eval: llmspec:{name} — {verdict}"
    assert "| task | metric | value | 95% CI | n | better |" in lines
    from llmspec.eval.outputs import POWER_HEADER

    assert f"| gate | check | status | value | {POWER_HEADER} | reason |" in lines
    for gate in GATES:
        assert any(line.startswith(f"| {gate} | threshold |") for line in lines), gate


def test_github_step_summary_is_appended(demo_runs):
    run = demo_runs["tiny-finetuned"]
    text = open(run.step_summary).read()
    assert text == "previous step\n" + (run.out / "summary.md").read_text() + "\n"


def test_terminal_output_shows_metrics_side_by_side_and_where_reports_went(demo_runs):
    run = demo_runs["tiny-base"]  # run without -q: tables on stdout, paths on stderr
    for name in ("word_perplexity", "acc_norm", "f1", "macro_f1"):
        assert name in run.stdout
    assert f"wrote {run.out / 'results.json'}" in run.stderr and "junit.xml" in run.stderr
    assert run.stdout.strip().splitlines()[-1].startswith("llmspec eval: FAILED: ")


BASELINE_GATES = ('eval.gates=[{metric="kb_mc/acc", max_drop=0.05}, {metric="kb_qa/f1", max_drop=0.05}, '
                  '{metric="kb_qa/token_f1", max_drop=0.05}]')  # the last: lm-eval's own metric, by its name


def test_baseline_gates_pair_samples_across_runs(demo_runs, tmp_path):
    """Against the fine-tuned run as baseline: the same model passes (A/A), the base model is a proven drop."""
    from eval_helpers import run_llmspec

    baseline = str(demo_runs["tiny-finetuned"].out / "results.json")
    same = run_llmspec("eval", "examples/tiny-finetuned.toml", "-q", "--baseline", baseline, "--set", BASELINE_GATES,
                       out=tmp_path / "aa")
    assert same.code == 0, same.stdout + same.stderr
    assert [(g["kind"], g["status"]) for g in same.results["gates"]] == [("baseline", "pass")] * 3
    # lm-eval's token_f1 declares no type: a mean of logged values, tested as 0/1 proportions when every logged
    # value is 0 or 1 (as here: the fine-tuned model's answers are all exactly right or all wrong)
    logged = same.results["tasks"]["kb_qa"]["metrics"]["token_f1,none"]["per_sample"].values()
    binary = all(v in (0, 1) for v in logged)
    assert [g["method"] for g in same.results["gates"]] == \
        ["tango-score-cc", "paired-t", "tango-score-cc" if binary else "paired-t"]
    worse = run_llmspec("eval", "examples/tiny-base.toml", "-q", "--baseline", baseline, "--set", BASELINE_GATES,
                        out=tmp_path / "ab")
    assert worse.code == 1, worse.stdout + worse.stderr
    assert [g["status"] for g in worse.results["gates"]] == ["fail", "fail", "fail"]
    assert worse.results["verdict"] == "FAILED"
    assert "proven drop beyond 0.05" in worse.stdout


def test_readme_and_docs_quote_this_runs_verdict_line(demo_runs):
    """The README's and docs/eval.md's `-q` line for tiny-base is what this run's first failed gate says (the
    figures there come from a real run, not from memory)."""
    from eval_helpers import ROOT

    gates = demo_runs["tiny-base"].results["gates"]
    first = next(g for g in gates if g["status"] == "fail")
    line = (f"llmspec eval: FAILED: {len(gates)} of {len(gates)} gate checks failed; first: {first['metric']}: "
            f"{first['reason']}")
    for doc in ("README.md", "docs/eval.md"):
        assert line in (ROOT / doc).read_text(), (doc, line)
