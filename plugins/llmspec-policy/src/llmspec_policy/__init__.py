"""Example llmspec rule plugin: organisation policy (ORG001 owner, ORG002 seed)."""

from llmspec_policy.owner import OwnerRule
from llmspec_policy.seed import SeedRule

__all__ = ["OwnerRule", "SeedRule"]
