"""The built-in metrics reproduce lm-eval 0.4.13's own figures on real per-sample records.

lm-eval runs for real (model="dummy": random loglikelihoods and a fixed generation, no weights needed) on local
tasks defined in memory over a JSON file; llmspec then scores lm-eval's per-sample records and must equal the
corpus values lm-eval reports, and lm_eval.api.metrics' aggregation functions applied to lm-eval's own
per-sample metric values. The same holds after the records go through JSON as lm-eval writes them.
"""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.eval, pytest.mark.slow]

WORDS = "warranty filter valve pump seal gasket hose nozzle motor panel".split()


@pytest.fixture(scope="module")
def lm_eval_run(tmp_path_factory):
    pytest.importorskip("lm_eval")
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    tmp = tmp_path_factory.mktemp("lmeval")
    rows = []
    for i in range(40):
        text = " ".join(WORDS[(i * k) % 10] for k in range(1, 4 + i % 9)) + (" — ünïcode" if i % 7 == 0 else ".")
        choices = [WORDS[i % 10], WORDS[(i + 3) % 10] + " and more", "x" * (1 + i % 5)]
        rows.append({"text": text, "q": f"Part {i}?", "choices": choices, "label": i % 3,
                     "answer": f"the {WORDS[i % 10]} part", "sentiment": ["positive", "negative", "neutral"][(i * i) % 3 and (i % 4 > 0)]})
    data = tmp / "data.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    base = dict(dataset_path="json", dataset_kwargs={"data_files": {"test": str(data)}}, test_split="test")
    tasks = [
        dict(task="c2_ppl", output_type="loglikelihood_rolling", doc_to_text="", doc_to_target="{{text}}",
             metric_list=[{"metric": m} for m in ("word_perplexity", "byte_perplexity", "bits_per_byte")], **base),
        dict(task="c2_mc", output_type="multiple_choice", doc_to_text="Q: {{q}}\nA:", doc_to_choice="{{choices}}",
             doc_to_target="{{label}}", metric_list=[{"metric": "acc"}, {"metric": "acc_norm"}], **base),
        dict(task="c2_cls", output_type="multiple_choice", doc_to_text="{{text}}\nSentiment:",
             doc_to_choice=["negative", "positive"], doc_to_target="{{sentiment}}", metric_list=[{"metric": "acc"}], **base),
        dict(task="c2_gen", output_type="generate_until", doc_to_text="Q: {{q}}\nA:", doc_to_target="{{answer}}",
             generation_kwargs={"until": ["\n"], "max_gen_toks": 4}, metric_list=[{"metric": "exact_match"}], **base),
    ]
    out = simple_evaluate(model="dummy", tasks=tasks, task_manager=TaskManager(include_defaults=False),
                          log_samples=True, random_seed=0, numpy_random_seed=0)
    return out


CASES = [("c2_ppl", "word_perplexity"), ("c2_ppl", "byte_perplexity"), ("c2_ppl", "bits_per_byte"),
         ("c2_mc", "acc"), ("c2_mc", "acc_norm"), ("c2_cls", "acc")]


def _strip_lm_eval_values(sample: dict) -> dict:
    """Drop lm-eval's own per-sample metric values, so llmspec must compute from the raw responses."""
    return {k: v for k, v in sample.items() if k not in set(sample.get("metrics", []))}


@pytest.mark.parametrize("task,metric", CASES)
def test_corpus_value_equals_lm_eval(lm_eval_run, task, metric):
    from llmspec.eval.metrics import load_metrics, score

    m = load_metrics()[metric]
    samples = [_strip_lm_eval_values(s) for s in lm_eval_run["samples"][task]]
    assert len(samples) == 40
    theirs = lm_eval_run["results"][task][f"{metric},none"]
    assert score(m, samples, n_boot=50).value == pytest.approx(theirs, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("task,metric", CASES)
def test_per_sample_values_equal_lm_eval_and_its_aggregation(lm_eval_run, task, metric):
    from lm_eval.api import metrics as lm

    from llmspec.eval.metrics import load_metrics

    m = load_metrics()[metric]
    samples = lm_eval_run["samples"][task]
    ours = [m.per_sample(_strip_lm_eval_values(s)) for s in samples]
    theirs = [s[metric] for s in samples]
    assert [tuple(v) if isinstance(v, (list, tuple)) else float(v) for v in ours] == [
        tuple(v) if isinstance(v, (list, tuple)) else float(v) for v in theirs
    ]
    agg = {"word_perplexity": lm.weighted_perplexity, "byte_perplexity": lm.weighted_perplexity,
           "bits_per_byte": lm.bits_per_byte, "acc": lm.mean, "acc_norm": lm.mean}[metric]
    assert m.aggregate(ours) == pytest.approx(agg(theirs), rel=1e-12)


@pytest.mark.parametrize("task,metric", CASES + [("c2_gen", "f1"), ("c2_cls", "macro_f1")])
def test_scores_survive_lm_eval_json_serialisation(lm_eval_run, task, metric):
    from lm_eval.utils import handle_non_serializable

    from llmspec.eval.metrics import load_metrics, score

    m = load_metrics()[metric]
    samples = lm_eval_run["samples"][task]
    as_written = json.loads(json.dumps(samples, default=handle_non_serializable, ensure_ascii=False))
    a, b = score(m, samples, n_boot=100), score(m, as_written, n_boot=100)
    assert (a.value, a.ci_low, a.ci_high) == pytest.approx((b.value, b.ci_low, b.ci_high))
    assert list(a.per_sample) == list(b.per_sample)  # doc hashes are stable through JSON


def test_macro_f1_and_token_f1_on_real_records(lm_eval_run):
    from sklearn.metrics import f1_score

    from llmspec.eval.metrics import load_metrics, score

    metrics = load_metrics()
    cls = lm_eval_run["samples"]["c2_cls"]
    pairs = [metrics["macro_f1"].per_sample(s) for s in cls]
    assert score(metrics["macro_f1"], cls, n_boot=50).value == pytest.approx(
        f1_score([g for g, _ in pairs], [p for _, p in pairs], average="macro", zero_division=0)
    )
    # accuracy from the same predictions equals lm-eval's acc on the task
    assert sum(g == p for g, p in pairs) / len(pairs) == pytest.approx(lm_eval_run["results"]["c2_cls"]["acc,none"])
    gen = lm_eval_run["samples"]["c2_gen"]
    assert {s["filtered_resps"][0] for s in gen} == {"lol"}  # the dummy model's answer
    assert score(metrics["f1"], gen, n_boot=50).value == 0.0
