import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


def pytest_collection_modifyitems(config, items):
    """fuzz_nightly tests run only when selected (`pytest -m fuzz_nightly tests/fuzz`), never in the default run."""
    if "fuzz_nightly" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="nightly fuzzing: run with -m fuzz_nightly")
    for item in items:
        if "fuzz_nightly" in item.keywords:
            item.add_marker(skip)
