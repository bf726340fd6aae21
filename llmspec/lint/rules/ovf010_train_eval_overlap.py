from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator

from llmspec.lint.rule import Rule

_WORD = re.compile(r"\w+")


def _records(path: str) -> Iterator[str]:
    """The text of each example: a JSON Lines record's string values joined, or one line of a text file."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        if path.endswith(".json"):
            data = json.load(handle)
            for item in data if isinstance(data, list) else [data]:
                yield _text(item)
            return
        for line in handle:
            line = line.strip()
            if not line:
                continue
            if path.endswith((".jsonl", ".ndjson")):
                try:
                    yield _text(json.loads(line))
                except ValueError:
                    yield line
            else:
                yield line


def _text(item: object) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        return " ".join(_text(v) for v in item.values())
    if isinstance(item, list):
        return " ".join(_text(v) for v in item)
    return ""


def _ngrams(text: str, n: int) -> set[bytes]:
    words = _WORD.findall(text.lower())
    if len(words) < n:  # short examples: the whole normalised text is the unit
        grams = [" ".join(words)] if words else []
    else:
        grams = [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    return {hashlib.blake2b(g.encode(), digest_size=8).digest() for g in grams}


def overlap(train: str, eval_: str, n: int) -> tuple[int, int]:
    """(eval examples sharing an n-gram with the training data, eval examples). Memory scales with the eval
    set: its n-gram hashes are kept, the training file is streamed."""
    index: dict[bytes, list[int]] = {}
    count = 0
    for i, text in enumerate(_records(eval_)):
        count += 1
        for g in _ngrams(text, n):
            index.setdefault(g, []).append(i)
    hit: set[int] = set()
    for text in _records(train):
        for g in _ngrams(text, n):
            if g in index:
                hit.update(index[g])
    return len(hit), count


class TrainEvalOverlap(Rule):
    """Training and eval data share examples (hashed word n-gram overlap). Opt-in: `llmspec lint --data`.

    Reads training.data.train and training.data.eval (JSON Lines, JSON or plain text; paths relative to the
    spec) and counts the eval examples that share a word n-gram with any training example (an example
    shorter than n words counts when its whole text reappears). Scores on contaminated examples measure
    recall of training data, not generalisation. This rule reads data files, so it only runs with --data and
    stays out of the default pre-commit hook.

    Why:
    Brown et al. 2020 (GPT-3), appendix C: an example is "dirty" if it shares any 13-gram with the training
    data; the same definition is used in lm-eval's decontamination tooling. Hashing (8-byte BLAKE2b) keeps
    memory proportional to the eval set while the training file is streamed.

    Thresholds:
    ngram = 13 (GPT-3's contamination n-gram); max_share = 0.0 (share of eval examples allowed to overlap).

    Bad:
    ```toml
    [training.data]
    train = "data/train.jsonl"
    eval = "data/eval_leaky.jsonl"
    ```

    Good:
    ```toml
    [training.data]
    train = "data/train.jsonl"
    eval = "data/eval_clean.jsonl"
    ```
    """

    code = "OVF010"
    name = "train-eval-overlap"
    severity = "warning"
    thresholds = {"ngram": 13, "max_share": 0.0}
    opt_in = "data"

    def check(self, ctx):
        training = ctx.spec.training
        data = training.data if training is not None else None
        if data is None or not data.train or not data.eval:
            return
        paths = {}
        for key in ("train", "eval"):
            loc = ctx.source.locate(("training", "data", key))
            paths[key] = os.path.join(os.path.dirname(loc.file) if not loc.file.startswith("<") else "", getattr(data, key))
        for key, path in paths.items():
            if not os.path.isfile(path):
                yield self.finding(ctx, ("training", "data", key), f"training.data.{key}: cannot read {path!r} for the "
                                   "overlap check", fix="fix the path (relative to the spec file)", severity="error")
                return
        dirty, total = overlap(paths["train"], paths["eval"], int(self.t["ngram"]))
        share = dirty / total if total else 0.0
        if dirty and share > float(self.t["max_share"]):
            yield self.finding(
                ctx, ("training", "data", "eval"),
                f"{dirty} of {total} eval examples ({share:.1%}) share a {int(self.t['ngram'])}-word sequence with "
                "the training data: eval scores on them measure memorisation",
                fix="remove the overlapping examples from the eval set (or from training) and re-run with --data",
            )


RULE = TrainEvalOverlap
