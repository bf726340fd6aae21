"""Run in the bridges venv: parse each `COMMAND FILE` pair with the parser the `litgpt` command builds (jsonargparse
over litgpt.__main__.main, captured instead of run: nothing trains). Prints one JSON line per file."""

import json
import sys

import litgpt.__main__ as cli
from jsonargparse import capture_parser

parser = capture_parser(cli.main)
for command, path in zip(sys.argv[1::2], sys.argv[2::2]):
    try:
        cfg = parser.parse_args([command, "--config", path])[command]
        train = cfg.train
        print(json.dumps({"path": path, "ok": True, "micro_batch_size": train.micro_batch_size,
                          "global_batch_size": train.global_batch_size, "max_seq_length": train.max_seq_length,
                          "precision": cfg.precision, "quantize": cfg.get("quantize"), "lora_r": cfg.get("lora_r")}))
    except SystemExit:  # jsonargparse reports a bad config on stderr and exits
        print(json.dumps({"path": path, "ok": False}))
