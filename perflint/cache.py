"""Per-file results kept between runs, so a re-run of an unchanged tree reads files but parses none.

A result is reused only for the same path, the same bytes (SHA-256), and the same run key: perflint's
version and the digest of its own source (so an edited rule invalidates), Python's and LibCST's versions,
and the caller's description of the configuration and run options. One JSON file per run key holds the
entries of every path checked under it; it is written atomically at the end of a run. JSON rather than
pickle: a cache folder that came with a cloned repository must not be able to run code.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
import shutil
import sys
import tempfile
import typing
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

import perflint
from perflint.types import ErrorKind, FileResult

DEFAULT_DIRECTORY = ".perflint_cache"
# Marks a folder as perflint's cache (https://bford.info/cachedir/); `perflint clean` removes only such folders.
TAG_NAME = "CACHEDIR.TAG"
TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# This folder is a cache created by perflint.\n"
# The entry of a result with no findings, errors or notes (a JSON string: encoded results are objects).
CLEAN = "clean"
# Results with these errors may come out differently next time for the same bytes.
TRANSIENT_ERRORS = frozenset({ErrorKind.READ, ErrorKind.WRITE})


class NotACacheError(OSError):
    """A folder that `perflint clean` was asked to remove but that perflint did not create."""


@dataclass
class ResultCache:
    """The cached results of one run key, read at the start of a run and saved at its end."""

    file: Path
    entries: dict[str, list[Any]] = field(default_factory=dict)
    changed: bool = False

    @classmethod
    def open(cls, directory: Path, configuration: str) -> "ResultCache":
        """The cache for runs with ``configuration`` (text that changes whenever results could) in ``directory``."""
        key = hashlib.sha256(repr((_perflint_identity(), configuration)).encode()).hexdigest()[:32]
        file = directory / f"results-{key}.json"
        try:
            entries = json.loads(file.read_bytes())
        except (OSError, ValueError):
            entries = {}
        return cls(file, entries if isinstance(entries, dict) else {})

    def get(self, path: Path) -> Optional[FileResult]:
        """The result cached for ``path`` if the file still holds the bytes it was computed for."""
        entry = self.entries.get(str(path))
        if not isinstance(entry, list) or len(entry) != 3:
            return None
        try:
            data = path.read_bytes()
        except OSError:
            return None
        digest, encoded, has_fixed = entry
        if digest != _digest(data):
            return None
        try:
            result = FileResult(path) if encoded == CLEAN else _decode(FileResult, encoded)
        except (AttributeError, KeyError, TypeError, ValueError):
            return None  # an entry this perflint cannot read: check the file again
        # Only results that changed nothing are cached: "fixed" is absent (errors) or the original bytes.
        return replace(result, original=data, fixed=data if has_fixed else None)

    def put(self, result: FileResult) -> None:
        """Remember ``result`` unless it changed the file or may differ next time for the same bytes."""
        if result.original is None or result.changed or result.fixes_applied or result.written:
            return
        if any(error.kind in TRANSIENT_ERRORS for error in result.errors):
            return
        stored = replace(result, original=None, fixed=None)
        try:
            # Most files have nothing to report: a marker, decoded without walking the type hints.
            encoded = CLEAN if stored == FileResult(result.path) else _encode(stored)
        except TypeError:
            return  # a field this module cannot encode (yet): not cached, still correct
        self.entries[str(result.path)] = [_digest(result.original), encoded, result.fixed is not None]
        self.changed = True

    def save(self) -> None:
        """Write the entries (atomically) if any changed; a cache that cannot be written is skipped silently."""
        if not self.changed:
            return
        try:
            _prepare_directory(self.file.parent)
            handle, temporary = tempfile.mkstemp(dir=self.file.parent, prefix=".results-", suffix=".tmp")
        except OSError:
            return
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(self.entries, stream, separators=(",", ":"))
            # A concurrent run may have saved meanwhile: last writer wins, and a lost entry is only a miss.
            os.replace(temporary, self.file)
        except OSError:
            Path(temporary).unlink(missing_ok=True)
            return
        self.changed = False


def clean(directory: Path) -> bool:
    """Remove the cache folder ``directory``; False if there is none. Raises NotACacheError for other folders."""
    if not directory.exists():
        return False
    if not (directory / TAG_NAME).is_file():
        raise NotACacheError(f"{directory} has no {TAG_NAME}: not a perflint cache, not removed")
    shutil.rmtree(directory)
    return True


def _prepare_directory(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    tag = directory / TAG_NAME
    if not tag.exists():
        tag.write_text(TAG, encoding="utf-8")
        # Like ruff's cache: never committed by accident.
        (directory / ".gitignore").write_text("*\n", encoding="utf-8")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@lru_cache(maxsize=1)
def _perflint_identity() -> tuple[str, ...]:
    """Everything about the running perflint that can change results for the same file and configuration."""
    package = Path(perflint.__file__).parent
    source = hashlib.sha256()
    for module in sorted(package.rglob("*.py")):
        source.update(module.relative_to(package).as_posix().encode() + b"\0" + module.read_bytes())
    return (perflint.__version__, source.hexdigest(), sys.version.split()[0], metadata.version("libcst"))


def _encode(value: Any) -> Any:
    """A JSON value for a frozen dataclass of perflint.types (and the enums, paths and tuples inside)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {item.name: _encode(getattr(value, item.name)) for item in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_encode(item) for item in value]
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise TypeError(f"cannot cache a value of type {type(value).__name__}")


def _decode(kind: Any, value: Any) -> Any:
    """The inverse of _encode, driven by the type annotation ``kind``."""
    if dataclasses.is_dataclass(kind):
        hints = _field_types(kind)
        return kind(**{name: _decode(hints[name], item) for name, item in value.items()})
    origin, arguments = typing.get_origin(kind), typing.get_args(kind)
    if origin is typing.Union:
        if value is None:
            return None
        (inner,) = [argument for argument in arguments if argument is not type(None)]
        return _decode(inner, value)
    if origin is tuple and arguments[-1] is Ellipsis:
        return tuple(_decode(arguments[0], item) for item in value)
    if origin is tuple and len(arguments) == len(value):
        return tuple(_decode(argument, item) for argument, item in zip(arguments, value))
    if isinstance(kind, type) and issubclass(kind, (enum.Enum, Path)):
        return kind(value)
    if kind in (str, int, float, bool) and isinstance(value, kind):
        return value
    raise TypeError(f"cannot read a cached {kind!r} from {value!r}")


@lru_cache(maxsize=None)
def _field_types(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)
