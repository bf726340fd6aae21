"""Run in the bridges venv: `tune validate FILE` (torchtune's own CLI, in-process) for each FILE, plus the top-level
keys of each file and of the shipped recipe config named after it (--shipped), and the keys the recipe reads without
a default (cfg.KEY in its source). Prints one JSON line per file."""

import contextlib
import importlib.metadata
import io
import json
import re
import sys

import yaml
from torchtune._cli import tune

dist = importlib.metadata.distribution("torchtune")
for pair in sys.argv[1:]:
    path, shipped, recipe = pair.split("::")
    sys.argv = ["tune", "validate", path]
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            tune.main()
        ok = "Config is well-formed!" in out.getvalue()
    except SystemExit:
        ok = False
    shipped_tree = yaml.safe_load(open(dist.locate_file(f"recipes/configs/{shipped}")).read())
    source = open(dist.locate_file(f"recipes/{recipe}.py")).read()
    required = sorted(set(re.findall(r"\bcfg\.([a-z_]+)\b", source)) - {"get"})
    print(json.dumps({"path": path, "ok": ok, "error": err.getvalue()[-300:],
                      "keys": sorted(yaml.safe_load(open(path).read())), "shipped": sorted(shipped_tree),
                      "required": required}))
