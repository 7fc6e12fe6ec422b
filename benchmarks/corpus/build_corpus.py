"""Build the real-world corpus for the safety sweep: published ML / data packages, unpacked to ``corpus/``.

Every distribution is fetched with ``pip download --no-deps`` at a pinned version (a wheel for CPython 3.11 on
manylinux x86-64, else the sdist), kept in ``corpus/_downloads`` so a rebuild needs no network, and its ``.py``
files are unpacked to ``corpus/src/<name>-<version>/``. ``corpus/`` is git-ignored: nothing downloaded is
committed, only this script.

Usage: ``python benchmarks/corpus/build_corpus.py [--dest corpus]``; it prints the file count per package.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parents[2]

# Pinned so that two builds sweep the same bytes. Chosen for the field perflint targets (PyTorch training
# code, pandas / numpy data code) and for size: together they hold well over 10,000 .py files.
PACKAGES: tuple[tuple[str, str], ...] = (
    ("transformers", "4.46.3"),
    ("pandas", "2.2.3"),
    ("scikit-learn", "1.5.2"),
    ("lightning", "2.4.0"),
    ("torchmetrics", "1.6.0"),
    ("timm", "1.0.11"),
    ("pytorch-forecasting", "1.1.1"),
    ("darts", "0.31.0"),
    ("skorch", "1.0.0"),
    ("pytorch-ignite", "0.5.1"),
    ("statsmodels", "0.14.4"),
    ("monai", "1.4.0"),
    ("accelerate", "1.1.1"),
    ("diffusers", "0.31.0"),
    ("scipy", "1.14.1"),
    ("xarray", "2024.10.0"),
    ("sktime", "0.34.0"),
    ("torch-geometric", "2.6.1"),
    ("keras", "3.6.0"),
    ("optuna", "4.1.0"),
    ("gluonts", "0.16.0"),
    ("dask", "2024.10.0"),
)
WHEEL_TARGET = ("--python-version", "3.11", "--implementation", "cp", "--abi", "cp311", "--platform",
                "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64")


def download(name: str, version: str, cache: Path) -> Path:
    """The cached archive of ``name==version``, downloaded with pip when absent (wheel first, then sdist)."""
    cached = _cached_archive(name, version, cache)
    if cached is not None:
        return cached
    requirement = f"{name}=={version}"
    wheel = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", *WHEEL_TARGET,
             "-d", str(cache), requirement]
    if subprocess.run(wheel, capture_output=True).returncode != 0:
        sdist = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--no-build-isolation",
                 "-d", str(cache), requirement]
        subprocess.run(sdist, check=True, capture_output=True)
    cached = _cached_archive(name, version, cache)
    if cached is None:
        raise RuntimeError(f"pip reported success but no archive of {requirement} is in {cache}")
    return cached


def _cached_archive(name: str, version: str, cache: Path) -> Path | None:
    stem = name.replace("-", "_").lower()
    for archive in sorted(cache.glob("*")):
        normalized = archive.name.replace("-", "_").lower()
        if normalized.startswith(f"{stem}_{version}") and archive.name.endswith((".whl", ".tar.gz", ".zip")):
            return archive
    return None


def unpack_sources(archive: Path, destination: Path) -> int:
    """Extract only the ``.py`` files of ``archive`` (wheel, zip or tar.gz) under ``destination``; their count."""
    destination.mkdir(parents=True, exist_ok=True)
    count = 0
    for member_name, read in _python_members(archive):
        relative = PurePosixPath(member_name)
        # Archive paths come from the internet: never let one escape the destination.
        if relative.is_absolute() or ".." in relative.parts:
            continue
        target = destination.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(read())
        count += 1
    return count


def _python_members(archive: Path):
    if archive.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as bundle:
            for info in bundle.infolist():
                if info.filename.endswith(".py") and not info.is_dir():
                    yield info.filename, lambda info=info: bundle.read(info)
    else:
        with tarfile.open(archive, "r:gz") as bundle:
            for info in bundle.getmembers():
                if info.name.endswith(".py") and info.isfile():
                    yield info.name, lambda info=info: bundle.extractfile(info).read()


def build(dest: Path) -> int:
    """Download and unpack every pinned package under ``dest``; the total number of ``.py`` files."""
    cache, sources = dest / "_downloads", dest / "src"
    cache.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, version in PACKAGES:
        target = sources / f"{name}-{version}"
        if target.is_dir():
            count = sum(1 for _ in target.rglob("*.py"))
        else:
            # Unpack beside the target and rename, so an interrupted build never looks complete.
            partial = target.parent / f"{target.name}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            count = unpack_sources(download(name, version, cache), partial)
            partial.rename(target)
        print(f"{name}=={version}: {count} .py files", flush=True)
        total += count
    print(f"total: {total} .py files in {sources}")
    return total


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=REPO / "corpus", help="corpus folder (git-ignored)")
    build(parser.parse_args().dest)


if __name__ == "__main__":
    main()
