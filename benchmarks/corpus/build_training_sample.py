"""The ML-training speed corpus (issue #14): a seeded sample of training code from research repositories.

The PyPI corpus of ``build_corpus.py`` is library code: few training loops, so most rules' prefilters drop most
files and perflint looks cheap. Real training code (models, trainers, examples, scripts) is where the rules fire,
and where their cost is paid. This script extracts the pinned commits of thirteen training-heavy repositories from
their bare mirrors (the fetch tool's ``/work/.mirror/<owner>+<name>/repo``; extraction and the pins of the
held-out repositories are ``heldout.py``'s), keeps the files that look like training code, and copies a seeded
sample of them to ``corpus/training/src/<owner>+<name>/...`` (git-ignored, like the rest of ``corpus/``), with
the list in ``corpus/training/files.txt``.

A file is kept when it is not a test, doc, ``setup.py``, ``conftest.py`` or ``__init__.py``, decodes as UTF-8,
parses with CPython, and imports torch, numpy or pandas (or a library built on them: lightning, transformers,
einops, qlib). At most ``--per-repo`` files are drawn from each repository (gogooku3 and qlib alone have 800
candidates), then ``--sample`` in all, both with ``random.Random(--seed)``.

Usage: ``python benchmarks/corpus/build_training_sample.py [--mirror /work/.mirror] [--dest corpus/training]
[--sample 470] [--per-repo 70] [--seed 0]``, then e.g.
``python benchmarks/throughput.py corpus/training/src --runs 3 --no-peers --output benchmarks/results/throughput_training.md``.
"""

from __future__ import annotations

import argparse
import ast
import random
import re
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
import heldout  # noqa: E402  (the pins and the extraction of the held-out sweep, shared)

REPO = Path(__file__).resolve().parents[2]
HELDOUT_PINS = dict(heldout.REPOSITORIES)
# owner/name -> commit. Ten of the held-out sweep's repositories (FinRL is mostly environments, not training)
# and three more training-heavy ones, pinned at the snapshot the fetch tool brought (December 2026).
REPOSITORIES: tuple[tuple[str, str], ...] = (
    *((repo, HELDOUT_PINS[repo]) for repo in (
        "karpathy/nanoGPT",
        "karpathy/minGPT",
        "pytorch/examples",
        "thuml/Time-Series-Library",
        "zhouhaoyi/Informer2020",
        "mlfoundations/open_clip",
        "tloen/alpaca-lora",
        "microsoft/qlib",
        "lucidrains/x-transformers",
        "lucidrains/denoising-diffusion-pytorch",
    )),
    ("wer-inc/gogooku3", "3be7311bc1124d5c501bd7aba9577ba65db81906"),
    ("dvgodoy/PyTorchStepByStep", "d837dec7250dae20d247634c4aba63791bd89b2f"),
    ("nv-tlabs/CLD-SGM", "43dc5681e4c6350a02c4ca6bf6e370dc592cfec9"),
)
SKIPPED_FOLDERS = {"test", "tests", "testing", "doc", "docs"}
SKIPPED_NAMES = {"setup.py", "conftest.py", "__init__.py"}
ML_IMPORT = re.compile(
    r"^\s*(?:import|from)\s+(?:torch|numpy|pandas|lightning|pytorch_lightning|transformers|einops|qlib)\b", re.M
)


def is_training_code(path: Path, relative: Path) -> bool:
    """Whether ``path`` (at ``relative`` inside its repository) counts as training code (see the module doc)."""
    if SKIPPED_FOLDERS & {part.lower() for part in relative.parts[:-1]}:
        return False
    name = relative.name
    if name in SKIPPED_NAMES or name.startswith("test_") or name.endswith("_test.py"):
        return False
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if not ML_IMPORT.search(text):
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return False
    return True


def candidates(extracted: Path) -> dict[str, list[Path]]:
    """owner+name -> its training-code files (relative to ``extracted``), sorted."""
    found = {}
    for repo, _ in REPOSITORIES:
        root = extracted / heldout.folder_name(repo)
        found[heldout.folder_name(repo)] = sorted(
            path.relative_to(extracted)
            for path in root.rglob("*.py")
            if path.is_file() and not path.is_symlink() and is_training_code(path, path.relative_to(root))
        )
    return found


def choose(found: dict[str, list[Path]], sample: int, per_repo: int, seed: int) -> list[Path]:
    """At most ``per_repo`` files of each repository, then ``sample`` in all, seeded; sorted."""
    rng = random.Random(seed)
    chosen: list[Path] = []
    for name in sorted(found):
        files = found[name]
        chosen.extend(rng.sample(files, per_repo) if len(files) > per_repo else files)
    if sample and len(chosen) > sample:
        chosen = rng.sample(sorted(chosen), sample)
    return sorted(chosen)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--dest", type=Path, default=REPO / "corpus" / "training", help="output folder (git-ignored)")
    parser.add_argument("--sample", type=int, default=470, help="files in all (0: every candidate up to --per-repo)")
    parser.add_argument("--per-repo", type=int, default=70)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="perflint-training-") as scratch:
        extracted = Path(scratch)
        heldout.extract(args.mirror, extracted, REPOSITORIES)
        found = candidates(extracted)
        chosen = choose(found, args.sample, args.per_repo, args.seed)
        src = args.dest / "src"
        shutil.rmtree(src, ignore_errors=True)
        for relative in chosen:
            (src / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(extracted / relative, src / relative)
    (args.dest / "files.txt").write_text("".join(f"{path}\n" for path in chosen), encoding="utf-8")
    per_repo = {name: sum(path.parts[0] == name for path in chosen) for name in sorted(found)}
    lines = sum((src / path).read_bytes().count(b"\n") for path in chosen)
    print(f"{len(chosen)} files, {lines} lines in {src} (seed {args.seed}); candidates -> chosen per repository:")
    for name in sorted(found):
        print(f"  {name}: {len(found[name])} -> {per_repo[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
