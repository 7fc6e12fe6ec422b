"""Inputs for the equivalence tests: every fixture, every rule example, and a sample of ``corpus/`` if built."""

from __future__ import annotations

import random
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from perflint import engine
from perflint.config import Settings
from perflint.registry import all_rules

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "corpus"


def fixture_inputs() -> list[Path]:
    """Every fixture input file (goldens excluded)."""
    return sorted(path for path in (REPO / "fixtures").glob("*/*.py") if not path.name.endswith(".fixed.py"))


def example_sources() -> list[tuple[str, bytes]]:
    """(id, source) of every Valid and Invalid example of every rule."""
    sources = []
    for rule in all_rules():
        for kind, examples in (("valid", rule.valid), ("invalid", rule.invalid)):
            for number, example in enumerate(examples):
                sources.append((f"{rule.code}-{kind}-{number}", textwrap.dedent(example.code).encode()))
    return sources


def all_inputs() -> list[tuple[str, bytes]]:
    """(id, source) of every fixture and every example."""
    fixtures = [(f"{path.parent.name}/{path.stem}", path.read_bytes()) for path in fixture_inputs()]
    return fixtures + example_sources()


def corpus_sample(count: int, seed: int = 0) -> list[Path]:
    """``count`` files of the real-world corpus chosen at random (none when it is not built)."""
    files = sorted(CORPUS.rglob("*.py")) if CORPUS.is_dir() else []
    return random.Random(seed).sample(files, min(count, len(files)))


def every_rule() -> Settings:
    """Settings selecting every rule, independent of any pyproject.toml."""
    return replace(Settings(root=REPO), select=("ALL",))


def count_parses(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The sources LibCST parses from now on (through ``engine.parse``), collected in a list."""
    parsed: list[bytes] = []
    real_parse = engine.parse

    def counting_parse(source: bytes, tree=None):
        parsed.append(source)
        return real_parse(source, tree)

    monkeypatch.setattr(engine, "parse", counting_parse)
    return parsed
