"""Sizes: counts ("40M", "6.74B", 3_000_000) and memory ("80GiB", "24GB") via llmspec.units, and in a spec."""

from __future__ import annotations

import math

import pytest
from spec_helpers import MINIMAL

from llmspec.spec.loader import load_spec
from llmspec.units import format_bytes, format_count, parse_bytes, parse_count


# -- sizes --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("40M", 40_000_000), ("6.74B", 6_740_000_000), ("3_000_000", 3_000_000), (3_000_000, 3_000_000),
        ("1.5K", 1500), ("1k", 1000), ("2T", 2 * 10**12), ("1G", 10**9), (" 7B ", 7 * 10**9), ("7 B", 7 * 10**9),
        ("1e3", 1000), ("1e3M", 10**9), (0, 0), ("0", 0), ("0.0000001", 0),
    ],
)
def test_parse_count(text, count: int) -> None:
    assert parse_count(text) == count


@pytest.mark.parametrize("bad", ["40Q", "", "M", "-5M", "1.2.3B", "4 0M", "40MB", "1e3e3", "nan", "inf", "0x10",
                                 True, None, [1], float("nan"), float("inf"), -1])
def test_parse_count_rejects(bad) -> None:
    with pytest.raises(ValueError):
        parse_count(bad)


@pytest.mark.parametrize(
    ("text", "nbytes"),
    [
        ("80GiB", 80 * 2**30), ("24GB", 24 * 10**9), ("512MiB", 512 * 2**20), ("1TiB", 2**40), ("1tb", 10**12),
        ("1.5KiB", 1536), ("100B", 100), ("100", 100), (1024, 1024), ("81559MiB", 81559 * 2**20), ("2 GiB", 2 * 2**30),
    ],
)
def test_parse_bytes(text, nbytes: int) -> None:
    assert parse_bytes(text) == nbytes


@pytest.mark.parametrize("bad", ["40Q", "80 gigs", "GiB", "-1GiB", "1PiB", "1GiBs", False, None, float("inf"), -1])
def test_parse_bytes_rejects(bad) -> None:
    with pytest.raises(ValueError):
        parse_bytes(bad)


def test_format_round_trips() -> None:
    assert format_count(6_738_415_616) == "6.74B"
    assert format_count(124_439_808) == "124M"
    assert format_count(999) == "999"
    assert format_bytes(80 * 2**30) == "80.0 GiB"
    assert format_bytes(512) == "512 B"
    assert parse_count(format_count(40_000_000)) == 40_000_000
    assert math.isclose(parse_bytes(format_bytes(80 * 2**30).replace(" ", "")), 80 * 2**30)


def test_sizes_in_a_spec(write) -> None:
    spec = load_spec(
        write("spec.toml", MINIMAL.replace('name = "tiny"', 'name = "tiny"\nparameters = "6.74B"')
              + '[training]\ndataset_tokens = 3_000_000\ndataset_examples = "10K"\n[hardware]\nmemory = "80GiB"\n')
    )
    assert spec.model.parameters == 6_740_000_000
    assert spec.training.dataset_tokens == 3_000_000
    assert spec.training.dataset_examples == 10_000
    assert spec.hardware.memory == 80 * 2**30
