"""Machine-readable output: SARIF 2.1.0 (validated against the published schema), GitHub annotations, JSON lines."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from perflint import docs
from perflint.cli import cli
from perflint.registry import all_rules
from tests.ecosystem.notebooks import code_cell, notebook_bytes

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
NO_GRAD = """\
import torch


def validate(model, loader):
    predictions = []
    with torch.no_grad():
        for x in loader:
            predictions.append(model(x).softmax(-1).cpu())
    return predictions
"""
GRAD_ON = """\
import torch


def train(model, loader):
    log = []
    for x in loader:
        log.append(model(x).softmax(-1).cpu())
    return log
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "validate.py").write_text(NO_GRAD)
    (tmp_path / "train, v2: final.py").write_text(GRAD_ON)
    (tmp_path / "broken.py").write_text("def f(:\n    return x.cpu()\n")
    (tmp_path / "analysis.ipynb").write_bytes(
        notebook_bytes([code_cell("import torch\n"), code_cell("with torch.no_grad():\n    kept.append(model(x).softmax(-1).cpu())")])
    )
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["check", "--select", "PFL101", *args], catch_exceptions=False)
    return result.exit_code, result.stdout


def sarif_run(*paths: str) -> dict:
    exit_code, output = run("--output-format", "sarif", *paths)
    assert exit_code == 1
    log = json.loads(output)
    jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(log)
    (only,) = log["runs"]
    return only


def test_the_vendored_schema_is_the_published_sarif_2_1_0_schema() -> None:
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    assert SCHEMA["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(SCHEMA).validate({"version": "2.1.0", "runs": [{"results": []}]})


def test_sarif_is_valid_and_describes_every_rule_with_its_docs(project: Path) -> None:
    run_ = sarif_run(".")
    driver = run_["tool"]["driver"]
    assert driver["name"] == "perflint"
    assert [rule["id"] for rule in driver["rules"]] == [rule.code for rule in all_rules()]
    for descriptor, rule in zip(driver["rules"], all_rules()):
        assert descriptor["name"] == rule.name
        assert descriptor["help"]["markdown"] == docs.rule_page(rule)
        assert descriptor["properties"]["fixSafety"] == rule.fix_safety.value
    assert run_["columnKind"] == "unicodeCodePoints"
    assert run_["originalUriBaseIds"]["%SRCROOT%"]["uri"] == project.resolve().as_uri() + "/"


def test_sarif_results_have_one_based_regions_matching_the_text_output(project: Path) -> None:
    results = sarif_run("validate.py")["results"]
    (result,) = results
    region = result["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (8, 32)
    _, text = run("validate.py")
    assert "validate.py:8:32: PFL101 [*]" in text
    assert result["ruleId"] == "PFL101" and result["ruleIndex"] == 0
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "validate.py", "uriBaseId": "%SRCROOT%"}


def test_sarif_fixes_reproduce_what_perflint_fix_writes(project: Path) -> None:
    (result,) = sarif_run("validate.py")["results"]
    (fix,) = result["fixes"]
    assert fix["description"]["text"] == "Insert `.detach()` before `.cpu()`"
    (change,) = fix["artifactChanges"]
    assert change["artifactLocation"]["uri"] == "validate.py"
    fixed = apply_replacements(NO_GRAD, change["replacements"])
    CliRunner().invoke(cli, ["fix", "--apply", "--select", "PFL101", "validate.py"])
    assert fixed == (project / "validate.py").read_text()
    assert ".detach().cpu()" in fixed


def test_sarif_marks_unsafe_fixes_and_escapes_uris(project: Path) -> None:
    (result,) = sarif_run("train, v2: final.py")["results"]
    assert result["properties"]["fixApplicability"] == "unsafe"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "train%2C%20v2%3A%20final.py"


def test_sarif_reports_file_errors_as_notifications(project: Path) -> None:
    (invocation,) = sarif_run("validate.py", "broken.py")["invocations"]
    assert invocation["executionSuccessful"] is False
    (notification,) = invocation["toolExecutionNotifications"]
    assert "broken.py: syntax-error" in notification["message"]["text"]


def test_sarif_notebook_results_name_the_cell_and_carry_no_fix(project: Path) -> None:
    (result,) = sarif_run("analysis.ipynb")["results"]
    assert result["properties"]["cell"] == 2
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
    assert "fixes" not in result


def test_sarif_notes_are_note_notifications(project: Path) -> None:
    cells = [code_cell("import torch"), code_cell("def broken(:\n    pass"), code_cell("kept.append(model(x).softmax(-1).cpu())")]
    (project / "notes.ipynb").write_bytes(notebook_bytes(cells))
    (invocation,) = sarif_run("notes.ipynb")["invocations"]
    assert invocation["executionSuccessful"] is True
    (notification,) = invocation["toolExecutionNotifications"]
    assert notification["level"] == "note" and "cell 2 skipped" in notification["message"]["text"]


def test_github_annotations(project: Path) -> None:
    exit_code, output = run("--output-format", "github", "validate.py", "train, v2: final.py", "analysis.ipynb", "broken.py")
    assert exit_code == 1
    lines = output.splitlines()
    assert lines[0].startswith("::error file=analysis.ipynb,title=PFL101::cell 2, line 2, column 17: `.cpu()`")
    assert lines[1].startswith("::error file=train%2C v2%3A final.py,line=7,col=20,")
    assert lines[2] == (
        "::error file=validate.py,line=8,col=32,endLine=8,endColumn=58,title=PFL101::"
        "`.cpu()` result kept inside torch.no_grad(): no graph is kept; detach is defensive"
    )
    assert lines[3].startswith("::error file=broken.py,title=perflint::broken.py: syntax-error")
    assert len(lines) == 4


def test_json_lines_has_one_json_document_per_finding(project: Path) -> None:
    _, lines = run("--output-format", "json-lines", ".")
    _, document = run("--output-format", "json", ".")
    parsed = [json.loads(line) for line in lines.splitlines()]
    assert parsed == json.loads(document)
    assert len(parsed) == 3
    assert all(item["fix"]["edits"] for item in parsed)
    assert [item["cell"] for item in parsed] == [2, None, None]


def test_clean_run_prints_valid_empty_documents(project: Path) -> None:
    (project / "clean.py").write_text("x = 1\n")
    assert run("--output-format", "json-lines", "clean.py") == (0, "")
    assert run("--output-format", "github", "clean.py") == (0, "")
    exit_code, output = run("--output-format", "sarif", "clean.py")
    assert exit_code == 0 and json.loads(output)["runs"][0]["results"] == []


def apply_replacements(text: str, replacements: list[dict]) -> str:
    """Apply SARIF replacements (1-based line/column regions, exclusive end) to ``text``."""
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def offset(line: int, column: int) -> int:
        return starts[line - 1] + column - 1

    for replacement in sorted(replacements, key=lambda r: (r["deletedRegion"]["startLine"], r["deletedRegion"]["startColumn"]), reverse=True):
        region = replacement["deletedRegion"]
        start = offset(region["startLine"], region["startColumn"])
        end = offset(region["endLine"], region["endColumn"])
        text = text[:start] + replacement["insertedContent"]["text"] + text[end:]
    return text
