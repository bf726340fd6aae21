"""A knowledge base the project writes itself: a fictional catalogue of water purifiers (8 lines x 50 models).

It feeds the tiny demo models (training text) and the offline ``smoke`` suite (held-out text and
questions). Everything is generated from a fixed seed with :class:`random.Random`, so the same text comes
out on every machine. The smoke suite's questions are worded differently from the training text, so a
model has to have learned the facts, not the sentences.

Regenerate the shipped suite data with ``python -m llmspec.eval.kb suites/smoke`` (a test checks that the
files in suites/smoke match this generator).
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from pathlib import Path

SEED = 20261123
VERSION = 7  # bump when the generator's output changes (it is part of the tiny models' build recipe)

# Sizing: each gated task has EVAL_ITEMS distinct documents. The smallest drop a baseline gate detects with 80%
# power at level alpha/m is margin + (z_(1-alpha/m) + z_0.8) * sqrt(2 sigma^2 / n) (llmspec.eval.paired.
# detectable_drop; Chow, Shao & Wang, sec. 3.2). With the demo spec's m = 4 gates, alpha = 0.05, a 5-point
# margin, the conservative sigma = 0.5 of values in [0, 1] and the unpaired variance, a 10-point drop needs
# n >= 1,902 (suites/README.md; tests/eval/test_eval_suites.py recomputes it from the same function).
EVAL_ITEMS = 2000

# 8 product lines x 50 model numbers = 400 products. Every model of a line shares the line's warranty, capacity,
# cartridge, first replacement step and indicator colour (40 line facts, as many as a ~1M-parameter model learns
# in a few hundred steps), and 400 products x 5 attributes give EVAL_ITEMS distinct questions. The documents are
# distinct, but they share those 40 facts: see suites/README.md on what the gates' independence assumption means.
LINES = ["Brook", "Cascade", "Delta", "Fjord", "Glacier", "Harbor", "Lagoon", "Meadow"]
NUMBERS = [str(100 + 10 * i) for i in range(50)]
PRODUCTS = [f"{line} {number}" for line in LINES for number in NUMBERS]
# attribute -> the values it takes (each line gets one, by a seeded draw)
VALUES = {
    "warranty": ["6 months", "12 months", "18 months", "24 months", "36 months", "48 months",
                 "60 months", "72 months"],
    "capacity": ["100 litres", "150 litres", "200 litres", "300 litres", "400 litres", "500 litres",
                 "750 litres", "900 litres"],
    "cartridge": ["Carbon Plus", "Ion Max", "Pure Flow", "Clear Core", "Mineral Shield", "Silver Guard",
                  "Zeolite Pro", "Ceramic Ultra"],
    "first_step": ["twist the cartridge to the left", "press the red release button", "lift the top lid",
                   "slide the tray out", "unplug the power cord", "empty the water tank",
                   "pull the blue lever", "open the side door"],
    "light": ["red", "amber", "blue", "purple", "orange", "green", "white", "pink"],
}

# Training text: statements, FAQ lines and question/answer records in several wordings per attribute. The
# suite uses *other* wordings (EVAL_QUESTIONS, HELDOUT_TEMPLATES, EVAL_TICKET), never seen in training.
TRAIN_TEMPLATES = {
    "warranty": ["The {p} comes with a warranty of {v}.", "Every {p} is covered by a {v} warranty.",
                 "Warranty for the {p}: {v}.", "FAQ: What warranty does the {p} carry? Answer: {v}."],
    "capacity": ["One filter of the {p} cleans {v} of water.", "The {p} filter capacity is {v}.",
                 "Filter capacity of the {p}: {v}.", "FAQ: How much water does a {p} filter clean? Answer: {v}."],
    "cartridge": ["The {p} uses the {v} cartridge.", "Replacement cartridge for the {p}: {v}.",
                  "Buy the {v} cartridge for your {p}.", "FAQ: Which cartridge fits the {p}? Answer: {v}."],
    "first_step": ["To replace the filter of the {p}, first {v}.", "Replacing the {p} filter starts when you {v}.",
                   "Step one for a new {p} filter: {v}.",
                   "FAQ: What is the first step to change the {p} filter? Answer: {v}."],
    "light": ["When the {p} filter is used up, the indicator light turns {v}.",
              "A {v} light on the {p} means the filter must be replaced.", "Indicator colour of the {p}: {v}.",
              "FAQ: What colour does the {p} light show when the filter expires? Answer: {v}."],
}
TRAIN_QUESTIONS = {
    "warranty": ["What warranty comes with the {p}?", "How many months of warranty does the {p} have?",
                 "What is the warranty period of the {p}?"],
    "capacity": ["How much water does one {p} filter clean?", "What is the filter capacity of the {p}?",
                 "How many litres does a {p} filter last?"],
    "cartridge": ["Which cartridge does the {p} use?", "What cartridge should I buy for my {p}?",
                  "Which replacement cartridge fits the {p}?"],
    "first_step": ["What is the first step to replace the {p} filter?", "How do I start changing the filter of the {p}?",
                   "What should I do first when I replace the filter in my {p}?"],
    "light": ["What colour is the {p} light when the filter is used up?",
              "Which colour does the {p} show when a new filter is needed?",
              "What colour does the {p} indicator turn when the filter expires?"],
}
# General manual text: the domain's vocabulary in sentences that state no product fact.
MANUAL = [
    "Keep the receipt as proof of purchase; the guarantee starts on the date of purchase.",
    "Owners are protected against defects in materials and workmanship.",
    "Every purifier is tested before it leaves the factory.",
    "Each cartridge purifies ordinary tap water and removes chlorine and limescale.",
    "A fresh cartridge may release a few carbon particles; rinse it before use.",
    "A spent cartridge can be recycled at any of our partner shops.",
    "Refills are sold in packs of two and four.",
    "Fitting a new filter takes about two minutes and needs no tools.",
    "Before you fit a new filter, wash your hands and rinse the jug.",
    "The lamp on the top glows while the purifier is working.",
    "If the lamp blinks, the purifier counts the litres that passed through the filter.",
    "You should replace the filter roughly every two months in normal use.",
    "Water that tastes flat or smells of chlorine is a sign that the filter is worn out.",
    "Spare parts and filters are available from the online shop.",
    "Do not put the purifier in the dishwasher.",
    "Contact support if water leaks from the base or the tank.",
    "The courier delivers orders within five working days.",
    "Claims under the warranty need the serial number from the base of the purifier.",
    "Store spare cartridges in a cool, dry place away from sunlight.",
    "The jug holds two litres of water and fits in most fridge doors.",
    "Clean the tank with warm water and a soft cloth once a week.",
    "Never use hot water in the purifier; it can damage the filter.",
    "The purifier is made from recycled plastic that is free of BPA.",
    "Our support team answers messages within one working day.",
    "You can track every order on the website with its order number.",
    "A new purifier comes with one cartridge already fitted.",
    "If the water flows slowly, the cartridge may not be seated correctly.",
    "Hard water wears a filter out sooner than soft water.",
    "The manual lists the capacity of every filter model in litres.",
    "The warranty does not cover damage caused by a fall or by misuse.",
    "Press the reset button after you replace a filter so that the counter starts again.",
    "Each purifier has a light that tells you when the filter needs to be changed.",
]
HELDOUT_TEMPLATES = {
    "warranty": "Owners of the {p} are protected by a {v} guarantee from the date of purchase.",
    "capacity": "A fresh {p} cartridge purifies roughly {v} before it is spent.",
    "cartridge": "Spare filters for the {p} are sold as {v} refills.",
    "first_step": "Before fitting a new filter in the {p}, you should {v}.",
    "light": "If the lamp on the {p} glows {v}, it is time for a new filter.",
}
# Validation wordings: used only to choose the tiny model's training recipe (corpus variety, label smoothing),
# never the smoke suite's data, whose wordings (HELDOUT_TEMPLATES, EVAL_QUESTIONS) stayed unseen while tuning.
VALIDATION_TEMPLATES = {
    "warranty": "Every owner of the {p} has a {v} warranty against defects.",
    "capacity": "Every fresh {p} filter cleans roughly {v} of tap water.",
    "cartridge": "The spare cartridge of the {p} is sold as the {v}.",
    "first_step": "To fit a new cartridge in the {p}, first you {v}.",
    "light": "The lamp of the {p} turns {v} when the filter is spent.",
}
EVAL_QUESTIONS = {
    "warranty": "How long is the {p} under warranty?",
    "capacity": "How many litres can a single {p} filter purify?",
    "cartridge": "What is the name of the refill cartridge for the {p}?",
    "first_step": "I want to put a new filter in my {p}. What do I do first?",
    "light": "Which colour does the {p} indicator show when the filter is worn out?",
}
CLASS_LABELS = ["filter", "warranty", "leak", "delivery"]
CLASS_WEIGHTS = [0.5, 0.25, 0.15, 0.10]  # deliberate imbalance: accuracy hides a model that only says "filter"
# What a customer writes, by topic: never the label word itself (tests/eval/test_eval_suites.py checks it), so a
# model has to learn which complaints belong to which topic.
CLASS_KEYWORDS = {
    "filter": ["the water tastes of chlorine", "the cartridge is worn out", "the change lamp is blinking",
               "the water flows very slowly", "the water smells musty", "the cartridge has turned grey",
               "the water looks cloudy", "the refill is used up", "the water tastes metallic",
               "the purifier no longer cleans the water"],
    "warranty": ["is it still covered after two years", "the guarantee card is lost", "can I get a free repair",
                 "the guarantee ran out last week", "will you replace it for free", "the receipt is gone but it broke",
                 "who pays for the repair", "is a cracked jug covered", "the free repair was refused",
                 "does the cover include the pump"],
    "leak": ["water is dripping on the counter", "there is a puddle under it", "the base is always wet",
             "the tank drips all night", "the seal lets water through", "the jug spills from a crack",
             "water seeps from the tap", "the floor is wet every morning", "drops run down the side",
             "the hose is dripping"],
    "delivery": ["the parcel never arrived", "the courier lost my order", "the order is two weeks late",
                 "the box came damaged in transit", "the shipping address was wrong",
                 "the tracking number does not work", "the package went to my neighbour",
                 "I got the wrong item in the box", "the parcel was sent back to you",
                 "nobody rang when the van came"],
}
TRAIN_TICKETS = ["Ticket: My {p} has a problem: {k}.\nCategory: {label}",
                 "Ticket: About the {p}, {k}. What now?\nCategory: {label}",
                 "Ticket: Dear support, {k} with my {p}.\nCategory: {label}"]
# Held-out ticket wordings: the suite's tickets use only these frames, which the training text never does.
TICKETS_PER_KEYWORD = 4  # training tickets per keyword and pass
TRAIN_PRODUCTS_PER_LINE = 2  # products of each line named in one pass of the training text
EVAL_TICKETS = ["Hello, writing about my {p}: {k}, please help.", "Hi team, {k} and I own a {p}.",
                "Question from a {p} owner: {k}.", "Good morning. {k}, it is a {p}.", "Urgent: my {p} and {k}.",
                "Since Monday {k}; the model is a {p}."]


def facts(seed: int = SEED) -> dict[str, dict[str, str]]:
    """product -> attribute -> value: each attribute's values are a seeded permutation over the lines, and every
    product of a line has its line's values."""
    rng = random.Random(seed)
    per_line: dict[str, dict[str, str]] = {line: {} for line in LINES}
    for attr, values in VALUES.items():
        shuffled = list(values)
        rng.shuffle(shuffled)
        for line, value in zip(LINES, shuffled):
            per_line[line][attr] = value
    return {f"{line} {number}": dict(per_line[line]) for line in LINES for number in NUMBERS}


OPENERS = ["", "", "", "Note: ", "In short, ", "Good to know: ", "From the manual: ", "Tip: ", "Remember: ",
           "Please note that ", "As a rule, ", "For your information, ", "Our records show that "]
SUBJECTS = ["the {p}", "the {p}", "your {p}", "each {p}", "the {p} purifier", "the {p} model", "our {p}",
            "any {p}", "the {p} unit", "the {p} water purifier"]
CLOSERS = ["", "", "", " in normal use", ", according to the manual", ", as the label says", " at home",
           ", as listed in the catalogue", " for most households"]


def _vary(rng: random.Random, template: str) -> str:
    """A statement template with a random opener and way of naming the product (FAQ lines stay as they are)."""
    if template.startswith("FAQ:"):
        return template
    template = template.replace("the {p}", rng.choice(SUBJECTS), 1)
    opener = rng.choice(OPENERS)
    if opener and template[0].isupper() and not template.startswith(("The {p}", "{p}")):
        template = template[0].lower() + template[1:]
    elif opener:
        template = template[0].lower() + template[1:] if template.startswith("The ") else template
    closer = rng.choice(CLOSERS)
    if closer and template.endswith("."):
        template = template[:-1] + closer + "."
    return opener + template


def training_text(repeats: int = 6, seed: int = SEED) -> str:
    """The fine-tuning corpus, ``repeats`` shuffled passes. Each pass names TRAIN_PRODUCTS_PER_LINE products of
    every line (a seeded draw): their facts in every training wording (statements with varied openers and
    product names, FAQ lines, question/answer records), general manual text and labelled support tickets
    (TICKETS_PER_KEYWORD per keyword and pass, random products). A model learns the 40 line facts from a corpus
    it sees several times; one pass over all 400 products (~650k tokens) left it at chance. Records are
    separated by blank lines."""
    rng = random.Random(seed + 1)
    table = facts(seed)
    out: list[str] = []
    for _ in range(repeats):
        chosen = [f"{line} {n}" for line in LINES for n in rng.sample(NUMBERS, TRAIN_PRODUCTS_PER_LINE)]
        lines = [_vary(rng, t).format(p=p, v=table[p][a]) for p in chosen for a in table[p]
                 for t in TRAIN_TEMPLATES[a]]
        lines += [f"Question: {q.format(p=p)}\nAnswer: {table[p][a]}." for p in chosen for a in table[p]
                  for q in TRAIN_QUESTIONS[a]]
        lines += MANUAL * 2
        for label, keys in CLASS_KEYWORDS.items():
            for k in keys:
                for _ in range(TICKETS_PER_KEYWORD):
                    lines.append(rng.choice(TRAIN_TICKETS).format(p=rng.choice(PRODUCTS), k=k, label=label))
        rng.shuffle(lines)
        out.extend(lines)
    return "\n\n".join(out) + "\n"


def heldout_docs(seed: int = SEED) -> list[dict]:
    """Perplexity documents: one paragraph per product (400), in wordings the training text never uses."""
    table = facts(seed)
    return [{"text": " ".join(HELDOUT_TEMPLATES[a].format(p=p, v=v) for a, v in row.items())}
            for p, row in table.items()]


def mc_docs(seed: int = SEED) -> list[dict]:
    """Multiple choice, one question per product and attribute (EVAL_ITEMS): the right value and three other
    values of the same attribute."""
    rng = random.Random(seed + 2)
    table = facts(seed)
    docs = []
    for p, row in table.items():
        for attr, value in row.items():
            wrong = [v for v in VALUES[attr] if v != value]
            choices = rng.sample(wrong, 3) + [value]
            rng.shuffle(choices)
            docs.append({"question": EVAL_QUESTIONS[attr].format(p=p), "choices": choices,
                         "gold": choices.index(value), "attribute": attr})
    return docs


def qa_docs(seed: int = SEED) -> list[dict]:
    """Generation: the same questions, answered freely; scored by SQuAD-style token F1."""
    table = facts(seed)
    return [{"question": EVAL_QUESTIONS[a].format(p=p), "answer": v, "attribute": a}
            for p, row in table.items() for a, v in row.items()]


def classification_docs(n: int = EVAL_ITEMS, seed: int = SEED) -> list[dict]:
    """Ticket topics with class imbalance (CLASS_WEIGHTS): distinct (held-out frame, product, keyword) triples
    drawn without replacement, so no text repeats, and no frame the training tickets use."""
    rng = random.Random(seed + 3)
    docs = []
    counts = [round(w * n) for w in CLASS_WEIGHTS]
    for label, count in zip(CLASS_LABELS, counts):
        keys = CLASS_KEYWORDS[label]
        space = len(EVAL_TICKETS) * len(PRODUCTS) * len(keys)
        for i in rng.sample(range(space), count):
            frame, rest = divmod(i, len(PRODUCTS) * len(keys))
            p, k = divmod(rest, len(keys))
            docs.append({"text": EVAL_TICKETS[frame].format(p=PRODUCTS[p], k=keys[k]),
                         "label": CLASS_LABELS.index(label)})
    rng.shuffle(docs)
    return docs


SUITE_FILES: dict[str, Callable[[], list[dict]]] = {
    "kb_heldout.jsonl": heldout_docs,
    "kb_mc.jsonl": mc_docs,
    "kb_qa.jsonl": qa_docs,
    "kb_tickets.jsonl": classification_docs,
}


def render_suite_files() -> dict[str, str]:
    """file name -> JSON-lines text of the smoke suite's data."""
    return {name: "".join(json.dumps(d, sort_keys=True) + "\n" for d in fn()) for name, fn in SUITE_FILES.items()}


def main(argv: list[str]) -> int:
    target = Path(argv[0] if argv else "suites/smoke")
    target.mkdir(parents=True, exist_ok=True)
    for name, text in render_suite_files().items():
        (target / name).write_text(text, encoding="utf-8")
        print(f"wrote {target / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
