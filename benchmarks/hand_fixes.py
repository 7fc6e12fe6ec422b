"""Apply perflint's intended rewrites to a copy of ``reference_trainer`` by exact text replacement.

This is the hand-made "after" version used to check, independently of perflint, that the fixes leave the
trainer's metrics bit-identical, and the fallback of ``gpu_check.sh`` where perflint (libcst) is not installed.
Every replacement must match exactly once, so a drift in the trainer's source fails loudly instead of silently
producing an unfixed copy.

Usage: ``python benchmarks/hand_fixes.py DEST`` copies ``reference_trainer/`` to ``DEST/reference_trainer``
and rewrites it there.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

REWRITES: dict[str, list[tuple[str, str]]] = {
    # PFL201 (twice): iterrows dict comprehension -> dict(zip(map(str, ...tolist()), ...)).
    "data.py": [
        (
            'code2market = {str(row["Code"]): str(row["MarketCode"]) for _, row in listed_info.iterrows()}',
            'code2market = dict(zip(map(str, listed_info["Code"].tolist()), '
            'map(str, listed_info["MarketCode"].tolist())))',
        ),
        (
            'code2sector = {str(row["Code"]): str(row["Sector33Code"]) for _, row in listed_info.iterrows()}',
            'code2sector = dict(zip(map(str, listed_info["Code"].tolist()), '
            'map(str, listed_info["Sector33Code"].tolist())))',
        ),
    ],
    # PFL202: enumerate/defaultdict grouping -> groupby(...).indices through the column.
    "sampler.py": [
        (
            "    date_indices = defaultdict(list)\n"
            '    for idx, date in enumerate(data["Date"]):\n'
            "        date_indices[date].append(idx)\n",
            '    s = data["Date"]\n'
            "    date_indices = defaultdict(list, {k: v.tolist() for k, v in s.groupby(s, sort=False, dropna=False, "
            "observed=True).indices.items()})\n",
        ),
    ],
    # PFL101 (train log, grad on; validate, no_grad) and PFL103.
    "train.py": [
        ("train_outputs.append(outputs.cpu())", "train_outputs.append(outputs.detach().cpu())"),
        ("val_predictions.append(outputs.cpu())", "val_predictions.append(outputs.detach().cpu())"),
        ("total_loss += loss\n", "total_loss += loss.detach()\n"),
    ],
    # PFL102 (interprocedural): convert once at the call site, helpers accept arrays.
    "metrics.py": [
        (
            "    daily_ic, pooled_ic = _compute_ic(point, targets, day_ids)\n",
            "    point_np = point.numpy()\n"
            "    targets_np = targets.numpy()\n"
            "    daily_ic, pooled_ic = _compute_ic(point_np, targets_np, day_ids)\n",
        ),
        ("_compute_rank_ic(point, targets, day_ids)", "_compute_rank_ic(point_np, targets_np, day_ids)"),
        ("_compute_sharpe(point, targets, day_ids)", "_compute_sharpe(point_np, targets_np, day_ids)"),
    ],
}

REPEATED_REWRITES: dict[str, list[tuple[str, str, int]]] = {
    "metrics.py": [
        ("pred = predictions.numpy()", "pred = np.asarray(predictions)", 3),
        ("targ = targets.numpy()", "targ = np.asarray(targets)", 3),
    ],
}


def apply_hand_fixes(package_dir: Path) -> list[str]:
    """Rewrite the trainer package at ``package_dir`` in place; return one line per applied rewrite.

    Raises:
        ValueError: a pattern does not occur exactly as often as expected.
    """
    applied = []
    for filename in sorted(set(REWRITES) | set(REPEATED_REWRITES)):
        path = package_dir / filename
        text = path.read_text()
        expected = [(old, new, 1) for old, new in REWRITES.get(filename, [])]
        for old, new, count in expected + REPEATED_REWRITES.get(filename, []):
            found = text.count(old)
            if found != count:
                raise ValueError(f"{path}: expected {count} occurrence(s) of {old!r}, found {found}")
            text = text.replace(old, new)
            applied.append(f"{filename}: {old.strip().splitlines()[0]}  ->  {new.strip().splitlines()[-1]}")
        path.write_text(text)
    return applied


def copy_and_fix(dest: Path, package_name: str = "reference_trainer") -> Path:
    """Copy ``reference_trainer/`` to ``dest/package_name`` (replacing an older copy), rewrite it, return it.

    With another ``package_name`` the copy's absolute imports are renamed too, so that the original and the
    fixed trainer can be imported side by side in one process.
    """
    package_dir = dest / package_name
    if package_dir.exists():
        shutil.rmtree(package_dir)
    shutil.copytree(REPO / "reference_trainer", package_dir, ignore=shutil.ignore_patterns("__pycache__"))
    apply_hand_fixes(package_dir)
    if package_name != "reference_trainer":
        for path in package_dir.glob("*.py"):
            path.write_text(path.read_text().replace("reference_trainer.", f"{package_name}."))
    return package_dir


def main() -> None:
    """Copy and rewrite; print what was applied."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="directory that receives reference_trainer/")
    args = parser.parse_args()
    package_dir = args.dest / "reference_trainer"
    copy_and_fix(args.dest)
    print(f"rewrote {package_dir}")


if __name__ == "__main__":
    main()
