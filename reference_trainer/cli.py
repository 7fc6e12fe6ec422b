"""Command line: ``python -m reference_trainer train --mode test|smoke|bench --seed N --out DIR``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from reference_trainer.config import MODES


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m reference_trainer``."""
    parser = argparse.ArgumentParser(prog="python -m reference_trainer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train one mode and write DIR/metrics.json and DIR/timing.json")
    train.add_argument("--mode", choices=sorted(MODES), default="test", help="run size (default: test)")
    train.add_argument("--seed", type=int, default=0, help="seed of the data, the model and the shuffles")
    train.add_argument("--out", type=Path, required=True, help="output directory")
    train.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="auto: CUDA when available, except in test mode, which runs on the CPU (default: auto)",
    )
    train.add_argument("--epochs", type=int, default=None, help="override the mode's number of epochs")
    train.add_argument("--max-batches", type=int, default=None, help="cap the batches (days) of every epoch")
    train.add_argument("--threads", type=int, default=None, help="torch CPU threads (test mode default: 1)")
    return parser


def resolve_device(requested: str, mode: str) -> str:
    """Turn ``--device`` into ``"cpu"`` or ``"cuda"``."""
    import torch  # imported here so that ``--help`` stays fast

    if requested != "auto":
        return requested
    return "cuda" if mode != "test" and torch.cuda.is_available() else "cpu"


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the exit status."""
    args = build_parser().parse_args(argv)
    from reference_trainer.train import RunOptions, run

    options = RunOptions(
        config=MODES[args.mode].with_epochs(args.epochs),
        seed=args.seed,
        out_dir=args.out,
        device=resolve_device(args.device, args.mode),
        threads=args.threads,
        max_batches=args.max_batches,
    )
    run(options)
    return 0
