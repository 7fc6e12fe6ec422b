"""Which files a directory walk checks."""

from __future__ import annotations

import subprocess
from pathlib import Path

from perflint.config import Settings
from perflint.files import discover


def names(root: Path) -> set[str]:
    return {d.path.relative_to(root).as_posix() for d in discover([root], Settings(root=root)) if d.problem is None}


def test_skips_git_venvs_builds_and_caches(tmp_path: Path) -> None:
    for relative in ["a.py", "pkg/b.py", ".git/c.py", "build/d.py", "env/e.py", "pkg/__pycache__/f.py", "x.egg-info/g.py", "notes.txt"]:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    assert names(tmp_path) == {"a.py", "pkg/b.py"}


def test_respects_gitignore(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("generated/\nskip_me.py\n")
    for relative in ["keep.py", "skip_me.py", "generated/h.py"]:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")
    assert names(tmp_path) == {"keep.py"}


def test_named_file_is_always_checked(tmp_path: Path) -> None:
    target = tmp_path / "build" / "x.py"
    target.parent.mkdir()
    target.write_text("x = 1\n")
    assert [d.path for d in discover([target], Settings(root=tmp_path))] == [target]
