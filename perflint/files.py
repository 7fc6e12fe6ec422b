"""Finding the files to check, reading them, and writing fixed ones back atomically."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence

from perflint.config import Settings

SOURCE_SUFFIXES = (".py", ".pyi", ".ipynb")
MISSING = "no such file or directory"


@dataclass(frozen=True)
class Discovered:
    """A path to check, or a path that could not be used and why."""

    path: Path
    problem: Optional[str] = None


def discover(paths: Sequence[Path], settings: Settings) -> Iterator[Discovered]:
    """Yield every file to check under ``paths`` in a stable order. Files named directly are checked even when
    excluded, unless ``settings.force_exclude`` (ruff's rule: pre-commit names every file it passes)."""
    seen: set[Path] = set()
    for path in paths:
        if not path.exists() and not path.is_symlink():
            yield Discovered(path, MISSING)
        elif settings.force_exclude and settings.is_excluded_path(path):
            continue
        elif path.is_dir():
            for found in _walk(path, settings):
                if found not in seen:
                    seen.add(found)
                    yield Discovered(found)
        elif path not in seen:
            seen.add(path)
            yield Discovered(path)


def _walk(directory: Path, settings: Settings) -> list[Path]:
    ignored = _gitignored(directory) if settings.respect_gitignore else frozenset()
    found: list[Path] = []
    for current, subdirs, filenames in os.walk(directory):
        current_path = Path(current)
        subdirs[:] = sorted(
            name
            for name in subdirs
            if not settings.is_excluded(current_path / name)
            and not (current_path / name / "pyvenv.cfg").exists()
            and (current_path / name).resolve() not in ignored
        )
        for name in sorted(filenames):
            candidate = current_path / name
            if (
                name.endswith(SOURCE_SUFFIXES)
                and not settings.is_excluded(candidate)
                and candidate.resolve() not in ignored
            ):
                found.append(candidate)
    return found


def _gitignored(directory: Path) -> frozenset[Path]:
    """Paths under ``directory`` that git ignores (empty when git or a repository is absent)."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "--others", "--ignored", "--exclude-standard", "--directory", "-z", "."],
            cwd=directory,
            capture_output=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset((directory / entry.decode("utf-8", "surrogateescape")).resolve() for entry in listing.split(b"\0") if entry)


def decode_source(data: bytes) -> str:
    """Decode Python source as the interpreter would (BOM, coding cookie, else UTF-8); raises ValueError."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as error:
        raise ValueError(str(error)) from error
    return text[1:] if text.startswith("\ufeff") else text


def write_atomically(path: Path, data: bytes, expected_original: bytes) -> None:
    """Replace ``path`` with ``data`` via a temporary file and rename, keeping its mode (and, run as root, owner).

    Raises FileChangedError if the file no longer holds ``expected_original`` (changed since it was read),
    ReadOnlyError if it has no write permission bit (even for root, who could replace it: read-only is a
    choice perflint respects). Symbolic links are followed: the file they point to is replaced, the link
    stays. A failure at any point leaves the original file as it was and no temporary file behind.
    """
    target = path.resolve()
    if target.read_bytes() != expected_original:
        raise FileChangedError("the file changed since perflint read it; not written")
    info = target.stat()
    mode = stat.S_IMODE(info.st_mode)
    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(target, os.W_OK):
        raise ReadOnlyError("the file is read-only; not written")
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".perflint")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        if _is_root() and (info.st_uid, info.st_gid) != (0, 0):
            # Root fixing someone's file must not hand it over to root (only root may chown).
            os.chown(temporary, info.st_uid, info.st_gid)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0  # no geteuid (or root) on Windows


class FileChangedError(OSError):
    """The file on disk no longer matches what was read."""


class ReadOnlyError(OSError):
    """The file may not be written: it has no write permission."""
