"""Machine-readable output: SARIF 2.1.0 (validated against the published schema), GitHub annotations, JSON lines."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from perflint import docs, notebook
from perflint.cli import cli
from perflint.registry import all_rules
from perflint.types import Location
from tests.ecosystem.notebooks import code_cell, markdown_cell, notebook_bytes

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
    assert result["properties"]["cellRegion"] == {"startLine": 2, "startColumn": 17, "endLine": 2, "endColumn": 43}
    assert "fixes" not in result


REPORTED = "model(x).cpu()"


def realistic_notebook() -> bytes:
    """A notebook as Jupyter saves it: cell ids, outputs, a markdown cell, one cell stored as a single string."""
    cells = [
        markdown_cell("# Validation\nSee the `model(x).cpu()` call below."),
        code_cell("import torch\nkept = []", execution_count=1),
        code_cell(
            "with torch.no_grad():\n    for x in loader:  # caf\u00e9 \U0001f600\n        kept.append(model(x).cpu())",
            outputs=[{"name": "stdout", "output_type": "stream", "text": ["tensor([1.])\n", "done\n"]}],
            execution_count=2,
        ),
        code_cell("with torch.no_grad():\n\tlabel = '\u00e9\\t\U0001f600'; kept.append(model(x).cpu())"),
    ]
    cells[3]["source"] = "".join(cells[3]["source"])
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number}"
    return notebook_bytes(cells)


@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_sarif_notebook_regions_point_at_the_code_in_the_raw_ipynb(project: Path, ensure_ascii: bool) -> None:
    data = realistic_notebook()
    if ensure_ascii:
        data = (json.dumps(json.loads(data), indent=1, sort_keys=True, ensure_ascii=True) + "\n").encode()
    (project / "real.ipynb").write_bytes(data)
    results = sarif_run("real.ipynb")["results"]
    assert [result["properties"]["cell"] for result in results] == [3, 4]
    raw_lines = data.decode("utf-8").splitlines()
    for result in results:
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] == region["endLine"]
        line = raw_lines[region["startLine"] - 1]
        assert line[region["startColumn"] - 1 : region["endColumn"] - 1] == REPORTED, (region, line)
        assert '"id"' not in line
    first = results[0]["locations"][0]["physicalLocation"]["region"]["startLine"]
    assert raw_lines[first - 1] == '    "        kept.append(model(x).cpu())"'


def test_json_notebook_positions_are_rows_and_columns_in_the_cell_as_in_ruff(project: Path) -> None:
    data = realistic_notebook()
    (project / "real.ipynb").write_bytes(data)
    _, output = run("--output-format", "json", "real.ipynb")
    document = json.loads(data)
    found = json.loads(output)
    assert [item["cell"] for item in found] == [3, 4]
    for item in found:
        source = "".join(document["cells"][item["cell"] - 1]["source"]).splitlines()
        start, end = item["location"], item["end_location"]
        assert start["row"] == end["row"] == item["noqa_row"]
        assert source[start["row"] - 1][start["column"] - 1 : end["column"] - 1] == REPORTED


def test_notebook_raw_index_maps_escapes_and_ends_between_source_strings() -> None:
    data = notebook_bytes([code_cell("a = 1\nb = '\u00e9'\n")])
    index = notebook.raw_index(data)
    lines = data.decode().splitlines()
    end_of_first = index.locate(1, Location(2, 1), end=True)
    start_of_second = index.locate(1, Location(2, 1))
    assert lines[end_of_first.row - 1][end_of_first.column - 1 :] == '",'
    assert lines[start_of_second.row - 1][start_of_second.column - 1 :] == "b = '\u00e9'\\n\""
    ascii_data = json.dumps(json.loads(data), indent=1, ensure_ascii=True).encode()
    after_e = notebook.raw_index(ascii_data).locate(1, Location(2, 7))
    assert ascii_data.decode().splitlines()[after_e.row - 1][after_e.column - 1 :] == "'\\n\""


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
    # Edits come with the fixes this run applies (the unsafe one's come with --unsafe-fixes).
    assert [bool(item["fix"]["edits"]) for item in parsed] == [item["fix"]["applicability"] == "safe" for item in parsed]
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
