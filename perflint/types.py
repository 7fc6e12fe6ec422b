"""Frozen values that cross perflint's layers: rules -> engine -> fixes -> report -> CLI."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Optional


class Applicability(str, enum.Enum):
    """How far a single fix can be trusted (ruff's convention)."""

    SAFE = "safe"
    UNSAFE = "unsafe"


class FixSafety(str, enum.Enum):
    """What a rule declares about the fixes it may emit."""

    NONE = "none"
    SAFE = "safe"
    UNSAFE = "unsafe"
    SOMETIMES_SAFE = "sometimes-safe"

    def allows(self, applicability: Applicability) -> bool:
        """Whether a fix of ``applicability`` may be emitted by a rule declaring this safety."""
        if self is FixSafety.SOMETIMES_SAFE:
            return True
        return self.value == applicability.value


class MetricImpact(str, enum.Enum):
    """Whether applying the rule's fix can change training metrics."""

    IDENTICAL = "identical"
    MAY_CHANGE = "may-change"


@dataclass(frozen=True)
class Location:
    """A 1-based row and 1-based column, as ruff reports them."""

    row: int
    column: int


@dataclass(frozen=True)
class Edit:
    """Replace the text between two locations (end exclusive) with ``content``."""

    content: str
    location: Location
    end_location: Location


@dataclass(frozen=True)
class Fix:
    """A fix as reported to users: its applicability, title and text edits."""

    applicability: Applicability
    message: str
    edits: tuple[Edit, ...] = ()
    # Decided once per run (perflint.api): `fix --apply`, with the run's unsafe-fixes setting, removes this
    # finding. Only such fixes carry edits, so the edits in JSON and SARIF are exactly what `fix --apply` writes.
    applies: bool = False


@dataclass(frozen=True)
class Violation:
    """One finding of one rule in one file."""

    code: str
    message: str
    path: Path
    location: Location
    end_location: Location
    fix: Optional[Fix] = None
    cell: Optional[int] = None

    @property
    def fixable(self) -> bool:
        """Whether this run's `fix --apply` fixes the finding (the `[*]` of `check`)."""
        return self.fix is not None and self.fix.applies

    @property
    def sort_key(self) -> tuple:
        return (str(self.path), self.cell or 0, self.location.row, self.location.column, self.code)


class ErrorKind(str, enum.Enum):
    """Why a file could not be checked or fixed."""

    READ = "read-error"
    ENCODING = "encoding-error"
    SYNTAX = "syntax-error"
    RULE = "rule-error"
    FIX = "fix-error"
    WRITE = "write-error"


@dataclass(frozen=True)
class FileError:
    """A file that could not be fully processed, and why (one line for users)."""

    path: Path
    kind: ErrorKind
    reason: str
    code: Optional[str] = None

    def describe(self) -> str:
        rule = f" in rule {self.code}" if self.code else ""
        return f"{self.path}: {self.kind.value}{rule}: {self.reason}"


@dataclass(frozen=True)
class FileResult:
    """Everything perflint learned about one file in one run."""

    path: Path
    violations: tuple[Violation, ...] = ()
    errors: tuple[FileError, ...] = ()
    original: Optional[bytes] = None
    fixed: Optional[bytes] = None
    fixes_applied: int = 0
    unsafe_fixes_available: int = 0
    # The codes of the findings that fixing removed, one per finding (sorted): `--show-fixes` lists them.
    fixed_codes: tuple[str, ...] = ()
    written: bool = False
    # Things users should know that are not errors, e.g. a notebook cell skipped because it is not Python.
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.fixed is not None and self.fixed != self.original
