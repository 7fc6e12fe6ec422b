"""Writing fixed files: atomic replacement, modes kept, links followed, read-only and changed files skipped.

Every failure must leave the original bytes on disk and no temporary file beside them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from perflint import api, files
from perflint.files import FileChangedError, ReadOnlyError, write_atomically
from perflint.types import ErrorKind, FileResult
from tests.safety.samples import FIXABLE, FIXED
from tests.support import settings_for

APPLY = api.RunOptions(fix=True, apply=True)


def apply_fixes(path: Path) -> FileResult:
    return api.check_file(path, settings_for(["ALL"]), APPLY)


def leftovers(directory: Path) -> list[str]:
    """Files perflint may have left behind (its temporary files are named ``.<name>.*.perflint``)."""
    return sorted(path.name for path in directory.iterdir() if path.name.endswith(".perflint"))


@pytest.fixture
def fixable(tmp_path: Path) -> Path:
    path = tmp_path / "model_eval.py"
    path.write_text(FIXABLE)
    return path


def test_fix_replaces_the_file_and_keeps_its_mode(fixable: Path) -> None:
    os.chmod(fixable, 0o751)
    inode_before = fixable.stat().st_ino
    result = apply_fixes(fixable)
    assert result.written and not result.errors
    assert fixable.read_text() == FIXED
    assert stat.S_IMODE(fixable.stat().st_mode) == 0o751
    # A new inode: the content was written beside the file and renamed over it, never truncated in place.
    assert fixable.stat().st_ino != inode_before
    assert leftovers(fixable.parent) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root can give a file to another user")
def test_root_keeps_the_owner(fixable: Path) -> None:
    os.chown(fixable, 12345, 23456)
    assert apply_fixes(fixable).written
    assert (fixable.stat().st_uid, fixable.stat().st_gid) == (12345, 23456)


def test_symlink_fixes_the_target_and_keeps_the_link(tmp_path: Path, fixable: Path) -> None:
    link = tmp_path / "link.py"
    link.symlink_to(fixable.name)
    result = apply_fixes(link)
    assert result.written and not result.errors
    assert link.is_symlink() and os.readlink(link) == fixable.name
    assert fixable.read_text() == FIXED


def test_read_only_file_is_skipped_with_one_line(fixable: Path) -> None:
    """Read-only is a choice: not written (even by root, who could), reported, left exactly as it was."""
    os.chmod(fixable, 0o444)
    result = apply_fixes(fixable)
    assert not result.written
    assert [(error.kind, error.reason) for error in result.errors] == [(ErrorKind.WRITE, "the file is read-only; not written")]
    assert result.errors[0].describe().startswith(f"{fixable}: write-error:")
    assert fixable.read_text() == FIXABLE
    assert stat.S_IMODE(fixable.stat().st_mode) == 0o444


def test_file_changed_between_read_and_write_is_not_written(fixable: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone edits the file while perflint works on it: their edit wins, perflint warns."""
    edited = FIXABLE + "# edited by someone else\n"
    real_check_source = api.check_source

    def check_then_edit(*args, **kwargs):
        result = real_check_source(*args, **kwargs)
        fixable.write_text(edited)
        return result

    monkeypatch.setattr(api, "check_source", check_then_edit)
    result = apply_fixes(fixable)
    assert not result.written
    assert [(error.kind, error.reason) for error in result.errors] == [
        (ErrorKind.WRITE, "the file changed since perflint read it; not written")
    ]
    assert fixable.read_text() == edited
    assert leftovers(fixable.parent) == []


class HalfWriter:
    """A file object that writes part of what it is given, then fails with ``error``."""

    def __init__(self, stream, error: BaseException) -> None:
        self.stream, self.error = stream, error

    def __enter__(self) -> "HalfWriter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stream.close()

    def write(self, data: bytes) -> int:
        self.stream.write(data[: len(data) // 2])
        self.stream.flush()
        raise self.error


@pytest.mark.parametrize("failing", ["write", "fsync", "chmod", "replace"])
@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()], ids=["disk-full", "interrupt"])
def test_interrupted_write_leaves_the_old_file_and_no_temporary(
    fixable: Path, monkeypatch: pytest.MonkeyPatch, failing: str, error: BaseException
) -> None:
    """Whatever step of the write fails, and however (an error or Ctrl-C), the file is old, never half-new."""

    def fail(*args, **kwargs):
        raise error

    if failing == "write":
        real_fdopen = os.fdopen
        monkeypatch.setattr(files.os, "fdopen", lambda *args, **kwargs: HalfWriter(real_fdopen(*args, **kwargs), error))
    else:
        monkeypatch.setattr(files.os, failing, fail)
    with pytest.raises(type(error)):
        write_atomically(fixable, FIXED.encode(), FIXABLE.encode())
    assert fixable.read_text() == FIXABLE
    assert leftovers(fixable.parent) == []


def test_failed_write_is_one_error_and_the_run_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "a.py", tmp_path / "b.py"
    first.write_text(FIXABLE)
    second.write_text(FIXABLE)
    real_replace = os.replace

    def replace_failing_for_a(source, target):
        if Path(target).name == "a.py":
            raise OSError(28, "No space left on device")
        return real_replace(source, target)

    monkeypatch.setattr(files.os, "replace", replace_failing_for_a)
    results = list(api.check_paths([tmp_path], settings_for(["ALL"]), APPLY))
    by_name = {result.path.name: result for result in results}
    assert [error.describe() for error in by_name["a.py"].errors] == [f"{first}: write-error: No space left on device"]
    assert by_name["a.py"].fixes_applied == 0 and first.read_text() == FIXABLE
    assert by_name["b.py"].written and second.read_text() == FIXED
    assert leftovers(tmp_path) == []


def test_write_refuses_changed_and_read_only_files_directly(tmp_path: Path) -> None:
    path = tmp_path / "x.py"
    path.write_text("old\n")
    with pytest.raises(FileChangedError):
        write_atomically(path, b"new\n", b"something else\n")
    os.chmod(path, 0o400)
    with pytest.raises(ReadOnlyError):
        write_atomically(path, b"new\n", b"old\n")
    assert path.read_text() == "old\n"
