"""Guards on the test tree itself: pytest's default import mode needs unique test module basenames."""

from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_test_module_basenames_are_unique() -> None:
    files = [*(ROOT / "tests").rglob("test_*.py"), *(ROOT / "plugins").glob("*/tests/test_*.py")]
    names = Counter(p.name for p in files)
    assert [n for n, c in names.items() if c > 1] == []
