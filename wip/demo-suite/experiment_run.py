"""Experiment: generator v6 (8 lines x 50 numbers) but a small, repeated training corpus (2 products per line per pass)."""
import random, sys, time
sys.path.insert(0, "/tmp/demo/exp")
import kb_v6
from llmspec.eval import kb, tinymodel
for name in dir(kb_v6):
    if name.isupper() or name in ("facts", "_vary", "heldout_docs", "mc_docs", "qa_docs", "classification_docs"):
        setattr(kb, name, getattr(kb_v6, name))
def training_text(repeats: int = 6, seed: int = kb.SEED) -> str:
    rng = random.Random(seed + 1)
    table = kb.facts(seed)
    out = []
    for _ in range(repeats):
        chosen = [f"{line} {n}" for line in kb.LINES for n in rng.sample(kb.NUMBERS, 2)]
        lines = [kb._vary(rng, t).format(p=p, v=table[p][a]) for p in chosen for a in table[p] for t in kb.TRAIN_TEMPLATES[a]]
        lines += [f"Question: {q.format(p=p)}\nAnswer: {table[p][a]}." for p in chosen for a in table[p] for q in kb.TRAIN_QUESTIONS[a]]
        lines += kb.MANUAL * 2
        for label, keys in kb.CLASS_KEYWORDS.items():
            for k in keys:
                for _ in range(4):
                    lines.append(rng.choice(kb.TRAIN_TICKETS).format(p=rng.choice(kb.PRODUCTS), k=k, label=label))
        rng.shuffle(lines)
        out.extend(lines)
    return "\n\n".join(out) + "\n"
kb.training_text = training_text
kb.VERSION = 99
print(len(training_text()), flush=True)
t = time.time()
print(tinymodel.build("tiny-finetuned", log=print), time.time() - t, flush=True)
