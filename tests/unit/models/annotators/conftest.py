"""The annotators' fixtures (tests/fixtures/annotators.py)."""

from fixtures.annotators import tiny_annotators  # noqa: F401 - a fixture, used by name
