"""The Rule base class: one rule = one subclass carrying its code, docs, examples and visitor logic."""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Mapping, Optional, Sequence, Union

import libcst as cst
from libcst import BatchableCSTVisitor
from libcst.metadata import CodeRange, PositionProvider

from perflint.import_table import ImportedNames
from perflint.types import Applicability, FixSafety, MetricImpact

DOC_SECTIONS = (
    "What it does",
    "Why is this bad?",
    "Example",
    "Use instead",
    "Fix safety",
    "Metric impact",
    "Known problems",
    "Options",
    "References",
)
CODE_PATTERN = re.compile(r"^PFL[1-9][0-9]{2}$")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

# (module, name) or (module, name, alias): see Rewrite.imports.
ImportNeed = Union[tuple[str, Optional[str]], tuple[str, Optional[str], Optional[str]]]
NodeChange = Callable[[cst.CSTNode], Union[cst.CSTNode, cst.RemovalSentinel, cst.FlattenSentinel]]


@dataclass(frozen=True)
class Valid:
    """Code on which the rule must report nothing (with the rule's ``options`` set as given)."""

    code: str
    options: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Invalid:
    """Code on which the rule must report; ``fixed`` is the expected result of its fixes, None = no fix."""

    code: str
    fixed: Optional[str] = None
    applicability: Applicability = Applicability.SAFE
    message_contains: Optional[str] = None
    count: int = 1
    options: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Rewrite:
    """Changes to CST nodes of the module being linted, applied together as one fix.

    Each entry maps an original node to a function of its (already transformed) copy, so a rewrite can
    both replace a node and change nodes inside it. ``imports`` lists what the fixed module needs, the one
    route by which fixes add imports (``perflint.fixes`` adds those the module lacks): ``(module, name)``
    for ``from module import name`` (name None: ``import module``), or ``(module, name, alias)`` for
    ``import module as alias`` / ``from module import name as alias``. A rule that writes ``np.asarray``
    picks the alias first (the module's own, else a free one) and declares ``("numpy", None, "np")``.
    """

    applicability: Applicability
    changes: tuple[tuple[cst.CSTNode, NodeChange], ...]
    title: Optional[str] = None
    imports: tuple[ImportNeed, ...] = ()

    @staticmethod
    def replace(node: cst.CSTNode, new: cst.CSTNode) -> tuple[cst.CSTNode, NodeChange]:
        """A change that swaps ``node`` for ``new``."""
        return (node, lambda _updated: new)

    @staticmethod
    def insert_before(
        statement: cst.BaseStatement, new_statements: Sequence[cst.BaseStatement]
    ) -> tuple[cst.CSTNode, NodeChange]:
        """A change that puts ``new_statements`` right before ``statement`` (whose inner changes are kept)."""
        return (statement, lambda updated: cst.FlattenSentinel([*new_statements, updated]))


@dataclass(frozen=True)
class Finding:
    """What a rule reported, still attached to CST nodes (engine-internal)."""

    code: str
    message: str
    node: cst.CSTNode
    range: CodeRange
    rewrite: Optional[Rewrite] = None
    fix_title: Optional[str] = None
    fix_span: Optional[tuple[tuple[int, int], tuple[int, int]]] = None


@dataclass
class RuleContext:
    """What a rule instance can see about the file and the run."""

    path: str
    options: Mapping[str, object] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    # The module's import-only names (built on first call, shared by the rules of one visit); None makes
    # every qualified-name lookup go to LibCST's provider.
    imported_names: Optional[Callable[[], ImportedNames]] = None


class Rule(BatchableCSTVisitor):
    """Base class of every perflint rule.

    Subclasses set the class attributes below and write a docstring with every section of DOC_SECTIONS
    (as ``## Section`` headings); the class is validated when it is defined.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    message: ClassVar[str]
    fix_title: ClassVar[Optional[str]] = None
    # When the rule's fixes can be unsafe: the condition under which they change behaviour, in a few words
    # (shown by quick fixes in editors; the Fix safety docs give the exact differences).
    unsafe_when: ClassVar[Optional[str]] = None
    fix_safety: ClassVar[FixSafety]
    metric_impact: ClassVar[MetricImpact]
    enabled_by_default: ClassVar[bool] = True
    required_tokens: ClassVar[tuple[str, ...]]
    options: ClassVar[Mapping[str, object]] = {}
    valid: ClassVar[Sequence[Valid]]
    invalid: ClassVar[Sequence[Invalid]]
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, context: RuleContext) -> None:
        super().__init__()
        self.context = context
        self.error: Optional[BaseException] = None

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:
            _validate_rule_class(cls)

    @classmethod
    def could_match(cls, tree: ast.Module) -> bool:
        """Whether the rule may report anything in the module whose Python ``ast`` is ``tree``.

        A cheap structural prefilter, asked only for files that contain one of ``required_tokens``: a rule
        that overrides it is not run (and the file not parsed by LibCST for it) where it returns False, so
        it must be true of every module the rule can report in (tokens in comments and strings, or in
        shapes the rule never reports, are what it can rule out). ``perflint.import_table`` tells
        what a module imports. The default rules nothing out.
        """
        return True

    def option(self, name: str) -> object:
        """The configured value of one of this rule's options, or its default."""
        return self.context.options.get(name, self.options[name])

    def report(
        self,
        node: cst.CSTNode,
        message: Optional[str] = None,
        *,
        rewrite: Optional[Rewrite] = None,
    ) -> None:
        """Record a finding at ``node``, optionally with a rewrite that fixes it."""
        if rewrite is not None and not self.fix_safety.allows(rewrite.applicability):
            raise ValueError(f"{self.code} declares fix safety {self.fix_safety.value} but emitted {rewrite.applicability.value}")
        title = span = None
        if rewrite is not None:
            title = rewrite.title or self.fix_title
            span = self._span(rewrite)
        self.context.findings.append(
            Finding(
                code=self.code,
                message=message or self.message,
                node=node,
                range=self.get_metadata(PositionProvider, node),
                rewrite=rewrite,
                fix_title=title,
                fix_span=span,
            )
        )

    def _span(self, rewrite: Rewrite) -> tuple[tuple[int, int], tuple[int, int]]:
        ranges = [self.get_metadata(PositionProvider, node) for node, _change in rewrite.changes]
        start = min((r.start.line, r.start.column) for r in ranges)
        end = max((r.end.line, r.end.column) for r in ranges)
        return (start, end)

    def get_visitors(self) -> Mapping[str, Callable[[cst.CSTNode], object]]:
        """Visitor methods wrapped so that one rule's crash disables only that rule for this file."""
        return {name: self._guarded(method) for name, method in super().get_visitors().items()}

    def _guarded(self, method: Callable[[cst.CSTNode], object]) -> Callable[[cst.CSTNode], object]:
        def call(node: cst.CSTNode) -> object:
            if self.error is not None:
                return None
            try:
                return method(node)
            except Exception as error:  # noqa: BLE001 - reported as this rule's internal error
                self.error = error
                return None

        return call

    @classmethod
    def documentation(cls) -> str:
        """The rule's full documentation (its dedented docstring)."""
        return textwrap.dedent(cls.__doc__ or "").strip()

    @classmethod
    def doc_section(cls, section: str) -> str:
        """The text of one ``## section`` of the rule's documentation."""
        return _split_sections(cls.documentation()).get(section, "")


def _split_sections(doc: str) -> dict[str, str]:
    sections: dict[str, str] = {}
    current: Optional[str] = None
    lines: list[str] = []
    for line in doc.splitlines():
        if line.startswith("## "):
            if current is not None:
                sections[current] = "\n".join(lines).strip()
            current, lines = line[3:].strip(), []
        elif current is not None:
            lines.append(line)
    if current is not None:
        sections[current] = "\n".join(lines).strip()
    return sections


def _validate_rule_class(cls: type[Rule]) -> None:
    problems = []
    if not CODE_PATTERN.match(cls.code):
        problems.append(f"code {cls.code!r} is not of the form PFL123")
    for attribute in ("name", "message", "fix_safety", "metric_impact", "required_tokens", "valid", "invalid"):
        if not hasattr(cls, attribute):
            problems.append(f"missing class attribute {attribute}")
    if problems:
        raise TypeError(f"rule {cls.__name__}: " + "; ".join(problems))
    if not NAME_PATTERN.match(cls.name):
        problems.append(f"name {cls.name!r} is not kebab-case")
    if cls.fix_safety is not FixSafety.NONE and not cls.fix_title:
        problems.append("a rule with fixes needs a fix_title")
    if cls.fix_safety in (FixSafety.UNSAFE, FixSafety.SOMETIMES_SAFE) and not cls.unsafe_when:
        problems.append("a rule with unsafe fixes needs unsafe_when (the condition, in a few words)")
    sections = _split_sections(cls.documentation())
    missing = [section for section in DOC_SECTIONS if not sections.get(section)]
    if missing:
        problems.append(f"docstring lacks sections {missing}")
    if not cls.valid or not cls.invalid:
        problems.append("needs at least one Valid and one Invalid example")
    if not cls.required_tokens:
        problems.append("required_tokens must name at least one token (the prefilter)")
    if problems:
        raise TypeError(f"rule {cls.code} ({cls.__name__}): " + "; ".join(problems))
