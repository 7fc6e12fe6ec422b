"""The command line, end to end through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from perflint.cli import cli
from perflint.registry import all_rules

NO_GRAD_SITE = """\
import torch


def validate(model, loader):
    predictions = []
    with torch.no_grad():
        for x in loader:
            outputs = model(x).softmax(dim=-1)
            predictions.append(outputs.cpu())
    return predictions
"""
GRAD_ON_SITE = """\
import torch


def train(model, loader, optimizer):
    log = []
    for x in loader:
        outputs = model(x)
        outputs.sum().backward()
        optimizer.step()
        log.append(outputs.cpu())
    return log
"""
EVAL_WITHOUT_NO_GRAD = """\
import torch


def evaluate(model, loader, log):
    model.eval()
    for x in loader:
        log.append(model(x).cpu())
"""
CLEAN = """\
import torch


def f(model, x):
    kept = [model(x).detach().cpu()]
    model.cpu()
    return kept, model(x).cpu().numpy()
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "validate.py").write_text(NO_GRAD_SITE)
    (tmp_path / "train.py").write_text(GRAD_ON_SITE)
    (tmp_path / "clean.py").write_text(CLEAN)
    (tmp_path / "eval_log.py").write_text(EVAL_WITHOUT_NO_GRAD)
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_check_reports_both_cases_with_their_messages(project: Path) -> None:
    result = run("check", str(project), "--select", "PFL101")
    assert result.exit_code == 1
    assert "validate.py:9:32: PFL101 [*]" in result.output
    assert "inside torch.no_grad(): no graph is kept" in result.output
    assert "train.py:10:20: PFL101 `.cpu()` result kept with autograd on" in result.output
    assert "keeps graph nodes alive and lets the copy reach backward" in result.output
    assert "eval_log.py:7:20: PFL101" in result.output
    assert "keeps the autograd graph of every batch alive" in result.output
    assert "clean.py" not in result.output


def test_check_clean_file_exits_zero(project: Path) -> None:
    result = run("check", str(project / "clean.py"))
    assert result.exit_code == 0, result.output
    assert "All checks passed" in result.output


def test_fix_without_apply_prints_diff_and_writes_nothing(project: Path) -> None:
    before = {p: p.read_bytes() for p in project.iterdir()}
    result = run("fix", str(project), "--select", "PFL101")
    assert "+            predictions.append(outputs.detach().cpu())" in result.output
    assert {p: p.read_bytes() for p in project.iterdir()} == before
    assert result.exit_code == 1


def test_fix_apply_writes_safe_fix_only_and_second_run_changes_nothing(project: Path) -> None:
    result = run("fix", "--apply", str(project), "--select", "PFL101")
    assert "outputs.detach().cpu()" in (project / "validate.py").read_text()
    assert (project / "train.py").read_text() == GRAD_ON_SITE
    assert "2 unsafe fixes available but not applied" in result.output
    snapshot = {p: p.read_bytes() for p in project.iterdir()}
    run("fix", "--apply", str(project), "--select", "PFL101")
    assert {p: p.read_bytes() for p in project.iterdir()} == snapshot


def test_fix_apply_unsafe_fixes_rewrites_grad_on_site(project: Path) -> None:
    run("fix", "--apply", "--unsafe-fixes", str(project), "--select", "PFL101")
    fixed = (project / "train.py").read_text()
    assert "log.append(outputs.detach().cpu())" in fixed
    compile(fixed, "train.py", "exec")
    again = run("fix", "--apply", "--unsafe-fixes", str(project), "--select", "PFL101")
    assert again.exit_code == 0, again.output
    assert (project / "train.py").read_text() == fixed


def test_json_output_is_shaped_like_ruff(project: Path) -> None:
    result = run("check", str(project / "validate.py"), "--select", "PFL101", "--output-format", "json")
    [item] = json.loads(result.output)
    assert set(item) >= {"code", "message", "filename", "location", "end_location", "fix", "noqa_row", "url"}
    assert item["code"] == "PFL101"
    assert item["location"] == {"row": 9, "column": 32}
    assert item["fix"]["applicability"] == "safe"
    [edit] = item["fix"]["edits"]
    assert edit["content"] == "            predictions.append(outputs.detach().cpu())\n"
    assert edit["location"] == {"row": 9, "column": 1} and edit["end_location"] == {"row": 10, "column": 1}


def test_stdin(project: Path) -> None:
    result = CliRunner().invoke(cli, ["check", "-", "--stdin-filename", "piped.py"], input=NO_GRAD_SITE)
    assert result.exit_code == 1
    assert "piped.py:9:32: PFL101" in result.output


def test_stdin_fix_apply_prints_fixed_source() -> None:
    result = CliRunner().invoke(cli, ["fix", "--apply", "-"], input=NO_GRAD_SITE)
    assert "predictions.append(outputs.detach().cpu())" in result.output


def test_ignore_and_select_prefixes(project: Path) -> None:
    assert run("check", str(project), "--ignore", "PFL1").exit_code == 0
    assert run("check", str(project), "--select", "PFL101,PFL102", "--ignore", "PFL101").exit_code == 0


def test_unknown_code_is_a_usage_error(project: Path) -> None:
    result = CliRunner().invoke(cli, ["check", str(project), "--select", "PFL999"])
    assert result.exit_code == 2
    assert "unknown rule code" in result.output


def test_bad_input_one_line_each_and_run_goes_on(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(NO_GRAD_SITE)
    (tmp_path / "broken.py").write_text("def f(:\n    kept.append(x.cpu())\n")
    (tmp_path / "latin.py").write_bytes("x = 'caf\xe9'\n".encode("latin-1"))
    result = run("check", str(tmp_path), str(tmp_path / "missing.py"), "--select", "PFL101")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 3, result.output
    assert any("broken.py: syntax-error" in line for line in errors)
    assert any("latin.py: encoding-error" in line for line in errors)
    assert any("missing.py: read-error: no such file or directory" in line for line in errors)
    assert "good.py:9:32: PFL101" in result.output


def test_malformed_config_is_one_line_and_exit_2_before_any_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.perflint]\nselct = ['PFL101']\n")
    (tmp_path / "good.py").write_text(NO_GRAD_SITE)
    result = CliRunner().invoke(cli, ["check", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        f"error: {tmp_path / 'pyproject.toml'}: [tool.perflint] unknown key 'selct' (did you mean 'select'? expected one of: "
        "select, extend-select, ignore, exclude, extend-exclude, force-exclude, respect-gitignore, per-file-ignores, "
        "unsafe-fixes, options)"
    ]


def test_rules_lists_every_rule() -> None:
    result = run("rules")
    for rule in all_rules():
        assert rule.code in result.output and rule.name in result.output


def test_explain_prints_fix_safety_text() -> None:
    result = run("explain", "PFL101")
    assert "## Fix safety" in result.output
    assert "Inserting `.detach()` is safe only where the kept value is proven not to require grad" in result.output
    assert CliRunner().invoke(cli, ["explain", "PFL000"]).exit_code == 2


def test_python_dash_m_entry_point(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "validate.py").write_text(NO_GRAD_SITE)
    completed = subprocess.run([sys.executable, "-m", "perflint", "check", str(tmp_path)], capture_output=True, text=True)
    assert completed.returncode == 1
    assert "PFL101" in completed.stdout
