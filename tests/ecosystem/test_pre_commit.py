"""The pre-commit hooks: the manifest is valid and its entries work (fast), and `pre-commit try-repo` runs them
end to end against a snapshot of this working tree (marked slow, about 25 s: it builds a virtualenv and
pip-installs perflint; .ci/run runs it)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from identify import identify
from pre_commit.clientlib import load_manifest

from tests.ecosystem.notebooks import code_cell, notebook_bytes

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
BAD = """\
import torch


def validate(model, loader):
    kept = []
    with torch.no_grad():
        for x in loader:
            kept.append(model(x).softmax(-1).cpu())
    return kept
"""
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "perflint tests",
    "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_NAME": "perflint tests",
    "GIT_COMMITTER_EMAIL": "tests@example.invalid",
}


def executable(name: str) -> str | None:
    """``name`` as installed beside this interpreter (a virtual environment need not be activated), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)


def hooks() -> dict[str, dict]:
    return {hook["id"]: hook for hook in load_manifest(str(MANIFEST))}


def test_manifest_is_valid_and_declares_both_hooks() -> None:
    found = hooks()
    assert set(found) == {"perflint-check", "perflint-fix"}
    assert found["perflint-check"]["entry"] == "perflint check --force-exclude"
    assert found["perflint-fix"]["entry"] == "perflint fix --apply --force-exclude"
    for hook in found.values():
        assert hook["language"] == "python"
        assert hook["pass_filenames"] is True
        assert set(hook["types_or"]) == {"python", "pyi", "jupyter"}


def test_hook_types_select_python_stubs_and_notebooks_only(tmp_path: Path) -> None:
    types = set(hooks()["perflint-check"]["types_or"])
    for name, selected in (("a.py", True), ("a.pyi", True), ("a.ipynb", True), ("a.json", False), ("a.md", False)):
        (tmp_path / name).write_text("{}\n")
        assert bool(identify.tags_from_path(str(tmp_path / name)) & types) is selected, name


def run_entry(hook_id: str, *files: Path) -> subprocess.CompletedProcess:
    """Run a hook's entry the way pre-commit does: entry words, the hook's args, then the file names."""
    hook = hooks()[hook_id]
    program, *words = shlex.split(hook["entry"])
    command = [executable(program) or program, *words, *hook["args"], *map(str, files)]
    return subprocess.run(command, capture_output=True, text=True, cwd=files[0].parent)


def test_check_entry_fails_on_a_finding_and_passes_on_clean_files(tmp_path: Path) -> None:
    bad, clean = tmp_path / "bad.py", tmp_path / "clean.py"
    bad.write_text(BAD)
    clean.write_text("x = 1\n")
    failed = run_entry("perflint-check", bad, clean)
    assert failed.returncode == 1 and "bad.py:8:25: PFL101" in failed.stdout
    assert run_entry("perflint-check", clean).returncode == 0


def test_fix_entry_rewrites_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(BAD)
    assert run_entry("perflint-fix", bad).returncode == 0
    assert bad.read_text() == BAD.replace("model(x).softmax(-1).cpu()", "model(x).softmax(-1).detach().cpu()")
    assert run_entry("perflint-check", bad).returncode == 0


def project_with_excluded_vendor(project: Path) -> None:
    """A git repository whose pyproject.toml excludes vendor/, with the same mistake inside and outside it."""
    project.mkdir()
    git(project, "init", "-q")
    (project / "pyproject.toml").write_text("[tool.perflint]\nextend-exclude = [\"vendor\"]\n")
    (project / "vendor").mkdir()
    (project / "vendor" / "v.py").write_text(BAD)
    (project / "bad.py").write_text(BAD)


def run_hook(project: Path, home: Path, hook_id: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [executable("pre-commit") or "pre-commit", "run", hook_id, "--all-files"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **GIT_IDENTITY, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"},
    )


@pytest.mark.slow  # pre-commit started three times: 3-9 s on a loaded 2-core machine; .ci/run runs it
@pytest.mark.skipif(executable("pre-commit") is None or shutil.which("git") is None, reason="needs pre-commit and git")
def test_pre_commit_runs_both_hooks_and_honours_excludes(tmp_path: Path) -> None:
    """pre-commit itself runs this manifest's hooks (as `repo: local` hooks, entries pointing at the perflint
    installed beside this Python, so nothing is installed) over every file of a repository with an excluded
    vendor/ folder: pre-commit names vendor/v.py, and --force-exclude keeps it unchecked and unwritten."""
    project, home = tmp_path / "project", tmp_path / "home"
    project_with_excluded_vendor(project)
    local = []
    for hook in hooks().values():
        program, *words = shlex.split(hook["entry"])
        entry = shlex.join([executable(program) or program, *words])
        local.append({"id": hook["id"], "name": hook["name"], "entry": entry, "language": "system", "types_or": hook["types_or"]})
    import yaml

    (project / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{"repo": "local", "hooks": local}]}))
    git(project, "add", "-A")

    checked = run_hook(project, home, "perflint-check")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "bad.py:8:25: PFL101" in checked.stdout and "vendor" not in checked.stdout

    fixed = run_hook(project, home, "perflint-fix")
    assert fixed.returncode == 1 and "files were modified by this hook" in fixed.stdout, fixed.stdout
    assert "model(x).softmax(-1).detach().cpu()" in (project / "bad.py").read_text()
    assert (project / "vendor" / "v.py").read_text() == BAD

    git(project, "add", "-A")
    passed = run_hook(project, home, "perflint-check")
    assert passed.returncode == 0 and "Passed" in passed.stdout, passed.stdout + passed.stderr


def snapshot_of_working_tree(target: Path) -> Path:
    """A one-commit repository holding this checkout's tracked and untracked (not ignored) files, as they are now.

    `pre-commit try-repo` on the checkout itself would miss new, unstaged files (it commits only `git add -u`).
    """
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    for name in filter(None, listing.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    git(target, "init", "-q")
    git(target, "add", "-A")
    git(target, "commit", "-q", "--no-verify", "-m", "snapshot")
    return target


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=cwd, check=True, env={**os.environ, **GIT_IDENTITY})


def try_repo(repo: Path, hook_id: str, cwd: Path, home: Path, *files: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [executable("pre-commit") or "pre-commit", "try-repo", str(repo), hook_id, "--files", *files],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **GIT_IDENTITY, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"},
    )


@pytest.mark.slow
@pytest.mark.skipif(executable("pre-commit") is None or shutil.which("git") is None, reason="needs pre-commit and git")
def test_try_repo_fails_on_the_finding_fixes_it_and_then_passes(tmp_path: Path) -> None:
    repo = snapshot_of_working_tree(tmp_path / "perflint")
    project, home = tmp_path / "project", tmp_path / "pre-commit-home"
    project_with_excluded_vendor(project)
    (project / "analysis.ipynb").write_bytes(
        notebook_bytes([code_cell("import torch"), code_cell("with torch.no_grad():\n    kept.append(model(x).softmax(-1).cpu())")])
    )
    git(project, "add", "-A")
    files = ("bad.py", "analysis.ipynb", "vendor/v.py")

    checked = try_repo(repo, "perflint-check", project, home, *files)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "perflint check" in checked.stdout and "Failed" in checked.stdout
    assert "bad.py:8:25: PFL101" in checked.stdout
    assert "analysis.ipynb:cell 2:2:17: PFL101" in checked.stdout

    fixed = try_repo(repo, "perflint-fix", project, home, *files)
    assert fixed.returncode == 1 and "files were modified by this hook" in fixed.stdout, fixed.stdout
    assert "model(x).softmax(-1).detach().cpu()" in (project / "bad.py").read_text()
    assert "model(x).softmax(-1).detach().cpu()" in (project / "analysis.ipynb").read_text()
    assert (project / "vendor" / "v.py").read_text() == BAD  # excluded: named by pre-commit, still skipped

    passed = try_repo(repo, "perflint-check", project, home, *files)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout
