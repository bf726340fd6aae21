"""llmspec eval: run lm-eval suites, score them through metric plugins, and gate on the results."""
