"""Example llmspec metric plugin: exact_match and answer_length for generation tasks."""

from llmspec_metric_example.metrics import AnswerLength, ExactMatch

__all__ = ["AnswerLength", "ExactMatch"]
