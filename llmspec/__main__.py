"""`python -m llmspec` is the `llmspec` command."""

from llmspec.cli import main

main()
