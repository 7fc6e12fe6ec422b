"""``perflint fix --verify CMD``: fixes are kept only when CMD's outputs stay identical, and nothing is written
unless the command could be verified. Small projects and tiny commands (``python -c ...``) keep these fast."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from perflint import verify
from perflint.cli import cli
from perflint.config import Settings

REPO = Path(__file__).resolve().parents[2]
PYTHON = shlex.quote(sys.executable)

# Two PFL201 sites; the first is on an int + float table, where the fix's documented difference shows:
# iterrows makes each row float, so str(row["code"]) is '1301.0' before and '1301' after.
PIPELINE = '''import pandas as pd


def maps():
    mixed = pd.DataFrame({"code": [1301, 1332], "weight": [0.5, 1.5]})
    names = pd.DataFrame({"code": ["1301", "1332"], "name": ["a", "b"]})
    by_weight = {str(row["code"]): str(row["weight"]) for _, row in mixed.iterrows()}
    by_name = {str(row["code"]): str(row["name"]) for _, row in names.iterrows()}
    return by_weight, by_name
'''
# One more PFL201 site, on a string table: the fix is exact there.
SECTORS = '''import pandas as pd


def sectors():
    table = pd.DataFrame({"code": ["1301", "1332"], "sector": ["fish", "food"]})
    return {str(row["code"]): str(row["sector"]) for _, row in table.iterrows()}
'''
RUN = '''import json, os
from pipeline import maps
from sectors import sectors

os.makedirs("out", exist_ok=True)
by_weight, by_name = maps()
with open("out/result.json", "w") as stream:
    json.dump({"by_weight": by_weight, "by_name": by_name, "sectors": sectors()}, stream)
'''
# A fixable file that the tiny commands below never import.
UNUSED = '''import pandas as pd


def lookup(table: pd.DataFrame) -> dict:
    return {str(row["a"]): str(row["b"]) for _, row in table.iterrows()}
'''


def _project(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def _verify(project: Path, monkeypatch, *arguments: str):
    monkeypatch.chdir(project)
    return CliRunner().invoke(cli, ["fix", "--unsafe-fixes", *arguments], catch_exceptions=False)


def _python(code: str) -> str:
    return f"{PYTHON} -c {shlex.quote(code)}"


def test_the_fix_whose_documented_difference_the_data_triggers_is_rejected_and_the_others_applied(tmp_path, monkeypatch):
    project = _project(tmp_path / "project", {"pipeline.py": PIPELINE, "sectors.py": SECTORS, "run.py": RUN})
    result = _verify(project, monkeypatch, "--verify", f"{PYTHON} run.py", "--compare", "out/result.json", "--output-format", "json", ".")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "rejected"
    assert [(r["code"], r["filename"], r["location"]["row"]) for r in report["rejected"]] == [("PFL201", "pipeline.py", 7)]
    difference = report["rejected"][0]["difference"]
    assert difference["file"] == "out/result.json" and "1301.0" in difference["baseline"] and "1301.0" not in difference["candidate"]
    assert sorted((r["filename"], r["location"]["row"]) for r in report["applied"]) == [("pipeline.py", 8), ("sectors.py", 6)]
    pipeline = (project / "pipeline.py").read_text()
    assert 'by_weight = {str(row["code"]): str(row["weight"]) for _, row in mixed.iterrows()}' in pipeline
    assert 'by_name = dict(zip(map(str, names["code"].tolist()), map(str, names["name"].tolist())))' in pipeline
    assert "iterrows" not in (project / "sectors.py").read_text()
    # 2 baseline runs, all fixes; pipeline.py's fixes (differ), its first fix alone (differs), its second one
    # (identical), sectors.py's on top (identical); the final run of the kept set.
    assert [run["label"].split(":")[0] for run in report["runs"]] == [
        "baseline 1 (original code)", "baseline 2 (original code)", "all 3 fixes", "trying 2 fixes in pipeline.py",
        "trying pipeline.py", "trying pipeline.py", "trying sectors.py", "final",
    ]
    assert Path(report["log_dir"], "run-1.stdout").exists()
    assert not (project / "out").exists()


def test_text_report_names_the_rejected_fix_and_its_first_difference(tmp_path, monkeypatch):
    # A command that reads one file's source: only that file's fix changes its output (no pandas, fast).
    project = _project(tmp_path / "project", {"lookup.py": UNUSED, "other.py": UNUSED})
    command = _python("print('rows:', open('lookup.py').read().count('iterrows'))")
    result = _verify(project, monkeypatch, "--verify", command, ".")
    assert result.exit_code == 1, result.output
    assert "rejected lookup.py:5:12: PFL201 (" in result.stdout
    assert "  changes <stdout> line 1 (byte 6): rows: 1 (baseline) vs rows: 0" in result.stdout
    assert "1 fix rejected (outputs differ); 1 verified and applied, outputs identical: <stdout>" in result.stdout
    assert "logs of each run in" in result.stdout
    assert "verify: run 1/3" in result.stderr and "verify:   exit 0 in" in result.stderr
    assert "iterrows" in (project / "lookup.py").read_text()
    assert "iterrows" not in (project / "other.py").read_text()


def test_identical_outputs_apply_every_fix(tmp_path, monkeypatch):
    project = _project(tmp_path / "project", {"lookup.py": UNUSED})
    result = _verify(project, monkeypatch, "--verify", _python("print(42)"), ".")
    assert result.exit_code == 0, result.output
    assert "verified: 1 fix, outputs identical: <stdout>" in result.stdout
    assert "iterrows" not in (project / "lookup.py").read_text()


def test_compare_globs_are_matched_in_the_copy_after_each_run(tmp_path, monkeypatch):
    project = _project(tmp_path / "project", {"lookup.py": UNUSED})
    code = "import os; os.makedirs('out/a'); open('out/a/m.json', 'w').write('[1]'); open('out/b.json', 'w').write('2')"
    result = _verify(project, monkeypatch, "--verify", _python(code), "--compare", "out/**/*.json", ".")
    assert result.exit_code == 0, result.output
    assert "verified: 1 fix, outputs identical: out/a/m.json, out/b.json" in result.stdout
    assert not (project / "out").exists()


def test_a_nondeterministic_command_stops_with_nothing_written(tmp_path, monkeypatch):
    project = _project(tmp_path / "project", {"lookup.py": UNUSED})
    before = _snapshot(project)
    code = "import json, random; json.dump({'metrics': {'loss': 0.5, 'seconds': random.random()}}, open('m.json', 'w'))"
    result = _verify(project, monkeypatch, "--verify", _python(code), "--compare", "m.json", "--compare-json", ".")
    assert result.exit_code == 2, result.output
    assert "differs: m.json key metrics.seconds:" in result.stdout
    assert "seeds" in result.stdout and "nothing written" in result.stdout
    assert _snapshot(project) == before
    # The timing left out, the same command verifies.
    result = _verify(project, monkeypatch, "--verify", _python(code), "--compare", "m.json", "--compare-json", "--ignore-key", "seconds", ".")
    assert result.exit_code == 0, result.output
    assert "iterrows" not in (project / "lookup.py").read_text()


def test_a_failing_command_stops_after_one_run_with_nothing_written(tmp_path, monkeypatch):
    project = _project(tmp_path / "project", {"lookup.py": UNUSED})
    before = _snapshot(project)
    result = _verify(project, monkeypatch, "--verify", _python("raise SystemExit(3)"), "--output-format", "json", ".")
    assert result.exit_code == 2, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "unverifiable" and "fails on the original code (exit 3)" in report["message"]
    assert len(report["runs"]) == 1 and report["written"] == []
    assert _snapshot(project) == before


def test_a_compared_file_the_command_does_not_write_stops(tmp_path, monkeypatch):
    project = _project(tmp_path / "project", {"lookup.py": UNUSED})
    before = _snapshot(project)
    result = _verify(project, monkeypatch, "--verify", _python("pass"), "--compare", "out/*.json", ".")
    assert result.exit_code == 2 and "no such file" in result.stdout
    assert _snapshot(project) == before


def test_a_timed_out_baseline_stops(tmp_path, monkeypatch):
    project = _project(tmp_path / "project", {"lookup.py": UNUSED})
    result = _verify(project, monkeypatch, "--verify", _python("import time; time.sleep(30)"), "--verify-timeout", "0.5", ".")
    assert result.exit_code == 2 and "(timed out)" in result.stdout


def test_an_interrupt_mid_run_leaves_the_tree_as_it_was(tmp_path, monkeypatch):
    project = _project(tmp_path / "project", {"lookup.py": UNUSED})
    before = _snapshot(project)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    seen = []

    def interrupt(progress: verify.Progress) -> None:
        seen.append(progress.run)
        if progress.run == 3:  # the run of the fixed copy is about to start
            raise KeyboardInterrupt

    options = verify.VerifyOptions(command=_python("print(1)"), unsafe_fixes=True, project=project)
    with pytest.raises(KeyboardInterrupt):
        verify.verify_fixes([project], Settings(root=project), options, on_progress=interrupt)
    assert 3 in seen
    assert _snapshot(project) == before
    # Only the logs stay; the copies are gone.
    assert [path.name.startswith("perflint-verify-logs-") for path in scratch.iterdir()] == [True]


def test_ctrl_c_ends_the_command_and_writes_nothing(tmp_path):
    project = _project(tmp_path / "project", {"lookup.py": UNUSED})
    before = _snapshot(project)
    command = _python("import time; time.sleep(60)")
    process = subprocess.Popen(
        [sys.executable, "-m", "perflint", "fix", "--unsafe-fixes", "--verify", command, "."],
        cwd=project, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    line = process.stderr.readline().decode()
    assert "verify: run 1/" in line, line
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert b"interrupted; nothing written" in stderr
    assert _snapshot(project) == before


def test_usage_errors(tmp_path, monkeypatch):
    project = _project(tmp_path / "project", {"lookup.py": UNUSED})
    monkeypatch.chdir(project)
    runner = CliRunner()
    assert runner.invoke(cli, ["fix", "--compare", "x", "."]).exit_code == 2
    assert runner.invoke(cli, ["fix", "--verify", "true", "--ignore-key", "t", "."]).exit_code == 2
    assert runner.invoke(cli, ["fix", "--verify", "true", "-"]).exit_code == 2
    outside = _project(tmp_path / "elsewhere", {"lookup.py": UNUSED})
    assert runner.invoke(cli, ["fix", "--verify", "true", str(outside)]).exit_code == 2
    assert "iterrows" in (outside / "lookup.py").read_text()


def test_nothing_to_fix_runs_nothing(tmp_path, monkeypatch):
    project = _project(tmp_path / "project", {"clean.py": "x = 1\n"})
    result = _verify(project, monkeypatch, "--verify", _python("raise SystemExit(1)"), ".")
    assert result.exit_code == 0 and "nothing to fix" in result.stdout


def test_the_copy_leaves_out_git_virtual_environments_caches_and_ignored_files(tmp_path):
    project = _project(
        tmp_path / "project",
        {
            "a.py": "", "data/x.csv": "1\n", "__pycache__/a.cpython-311.pyc": "", ".pytest_cache/v": "",
            "env/pyvenv.cfg": "", "env/lib/site.py": "", "ignored.log": "", ".gitignore": "*.log\n",
        },
    )
    expected = [".gitignore", "a.py", "data/x.csv"]
    assert verify.project_files(project) == expected + ["ignored.log"]
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run(["git", "add", "a.py"], cwd=project, check=True)
    assert verify.project_files(project) == expected


def test_json_comparison_is_exact_by_value():
    def outcome(data: bytes) -> verify._Outcome:
        return verify._Outcome(0, False, {"m.json": data})

    def differences(a: bytes, b: bytes, ignore=()):
        return verify.compare_outcomes(outcome(a), outcome(b), True, ignore)

    assert differences(b'{"a": 1.5, "b": [1, 2]}', b'{"b":[1,2],\n "a":1.5}') == []
    assert differences(b'{"a": NaN}', b'{"a": NaN}') == []
    (found,) = differences(b'{"a": {"b": [1, 0.1]}}', b'{"a": {"b": [1, 0.10000000000000002]}}')
    assert (found.where, found.baseline, found.candidate) == ("key a.b[1]", "0.1", "0.10000000000000002")
    (found,) = differences(b'{"m": {"1.5": 1}}', b'{"m": {"1.5": 2}}')
    assert found.where == 'key m["1.5"]'
    assert differences(b'{"a": 1}', b'{"a": 1.0}') == []
    assert differences(b'{"a": true}', b'{"a": 1}') != []
    assert differences(b'{"a": 1, "t": 2}', b'{"a": 1, "t": 3}', ("t",)) == []
    assert differences(b'{"x": {"t": 2}}', b'{"x": {"t": 3}}', ("x.t",)) == []
    # Without --compare-json: bytes, and the first differing line.
    (found,) = verify.compare_outcomes(outcome(b"a\nb 1\n"), outcome(b"a\nb 2\n"), False, ())
    assert (found.where, found.baseline, found.candidate) == ("line 2 (byte 4)", "b 1", "b 2")


def test_fix_filter_decides_each_fix_after_the_run_options(tmp_path):
    from perflint import api

    source = (UNUSED + '\n\ndef other(table: pd.DataFrame) -> dict:\n    return {str(row["c"]): str(row["d"]) for _, row in table.iterrows()}\n').encode()
    settings = Settings(root=tmp_path)
    asked = []

    def only_the_second(finding, module) -> bool:
        asked.append(finding.range.start.line)
        return finding.range.start.line > 6

    fixed = api.check_source(source, tmp_path / "x.py", replace(settings, unsafe_fixes=True), api.RunOptions(fix=True, fix_filter=only_the_second))
    assert fixed.fixes_applied == 1
    assert b'str(row["a"])' in fixed.fixed and b'str(row["c"])' not in fixed.fixed
    assert sorted(set(asked)) == [5, 9]
    # Without --unsafe-fixes the unsafe fixes are not even offered to the filter.
    asked.clear()
    plain = api.check_source(source, tmp_path / "x.py", settings, api.RunOptions(fix=True, fix_filter=only_the_second))
    assert plain.fixes_applied == 0 and asked == []


def test_a_half_that_keeps_the_outputs_spares_the_run_of_the_other_half(tmp_path, monkeypatch):
    # a.py's fix changes nothing the command sees; b.py's does. Once a.py is kept, "kept + b.py" is the set
    # that already differed, so b.py's fix is rejected without another run.
    project = _project(tmp_path / "project", {"a.py": UNUSED, "b.py": UNUSED})
    command = _python("print(open('b.py').read().count('iterrows'))")
    result = _verify(project, monkeypatch, "--verify", command, "--output-format", "json", ".")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert [r["filename"] for r in report["rejected"]] == ["b.py"]
    assert [r["filename"] for r in report["applied"]] == ["a.py"]
    assert [run["label"].split(" (")[0].split(":")[0] for run in report["runs"]] == [
        "baseline 1", "baseline 2", "all 2 fixes", "trying a.py", "final",
    ]


def test_fixes_found_in_later_passes_keep_their_names_under_any_subset(tmp_path):
    # The trainer's metrics.py has a PFL102 fix that appears only once another one went in (a second pass).
    target = verify._Target(tmp_path / "metrics.py", "metrics.py", (REPO / "reference_trainer" / "metrics.py").read_bytes())
    settings = Settings(root=tmp_path)
    full = verify._fix(target, settings, True, None)
    assert len(full.refs) == len(set(full.refs)) >= 2
    again = verify._fix(target, settings, True, frozenset(full.refs))
    assert (again.data, set(again.refs)) == (full.data, set(full.refs))
    for ref in full.refs:
        assert set(verify._fix(target, settings, True, frozenset({ref})).refs) <= {ref}
    assert verify._fix(target, settings, True, frozenset()).data == target.original


def test_ctrl_c_during_the_final_writes_lets_them_all_finish(tmp_path, monkeypatch):
    project = _project(tmp_path / "project", {"a.py": UNUSED, "b.py": UNUSED})
    real_write = verify.write_atomically

    def write_then_interrupt(path, data, original):
        real_write(path, data, original)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(verify, "write_atomically", write_then_interrupt)
    options = verify.VerifyOptions(command=_python("print(1)"), unsafe_fixes=True, project=project)
    result = verify.verify_fixes([project], Settings(root=project), options)
    assert result.status is verify.Status.VERIFIED
    assert [path.name for path in result.written] == ["a.py", "b.py"]
    assert all("iterrows" not in (project / name).read_text() for name in ("a.py", "b.py"))


def test_a_read_only_file_to_fix_stops_the_writes(tmp_path, monkeypatch):
    project = _project(tmp_path / "project", {"a.py": UNUSED, "b.py": UNUSED})
    (project / "b.py").chmod(0o444)
    before = _snapshot(project)
    result = _verify(project, monkeypatch, "--verify", _python("print(1)"), ".")
    assert result.exit_code == 2 and "b.py: read-only; nothing written" in result.stdout
    assert _snapshot(project) == before
