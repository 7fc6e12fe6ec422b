"""PFL204: growing one object by concatenation inside a loop vs collecting pieces and concatenating once.

- numpy: ``X = np.append(X, piece)`` / ``np.concatenate([X, piece])`` vs one ``np.concatenate(pieces)``;
- pandas: ``df = pd.concat([df, one_row_frame])`` vs one ``pd.concat(pieces)``;
- torch: ``X = torch.cat([X, piece])`` vs one ``torch.cat(pieces)`` (on each device).
Each pair is checked for equal results and timed interleaved (median).

Usage: ``python benchmarks/bench_growing_concat.py [--pieces 2000] [--frames 500] [--device cpu cuda]``
"""

from __future__ import annotations

import argparse

from benchutil import cuda_available, interleaved, median, table

PIECE = 1000


def numpy_pair(pieces: int) -> dict[str, object]:
    """Growing vs once, numpy."""
    import numpy as np

    parts = [np.full(PIECE, float(i)) for i in range(pieces)]

    def grow():
        grown = np.array([])
        for part in parts:
            grown = np.append(grown, part)  # noqa: PFL204 - the pattern under measurement
        return grown

    def once():
        collected = []
        for part in parts:
            collected.append(part)
        return np.concatenate(collected)

    return {"grow": grow, "once": once, "same": lambda a, b: bool(np.array_equal(a, b))}


def pandas_pair(frames: int) -> dict[str, object]:
    """Growing vs once, pandas (one-row frames, as rows appended in a loop)."""
    import pandas as pd

    parts = [pd.DataFrame({"a": [i], "b": [float(i)], "c": [str(i)]}) for i in range(frames)]

    def grow():
        grown = parts[0]
        for part in parts[1:]:
            grown = pd.concat([grown, part], ignore_index=True)  # noqa: PFL204 - the pattern under measurement
        return grown

    def once():
        return pd.concat(parts, ignore_index=True)

    return {"grow": grow, "once": once, "same": lambda a, b: a.equals(b)}


def torch_pair(pieces: int, device_name: str) -> dict[str, object]:
    """Growing vs once, torch on one device."""
    import torch

    device = torch.device(device_name)
    parts = [torch.full((PIECE,), float(i), device=device) for i in range(pieces)]
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def grow():
        grown = torch.empty(0, device=device)
        for part in parts:
            grown = torch.cat([grown, part])  # noqa: PFL204 - the pattern under measurement
        synchronize()
        return grown

    def once():
        grown = torch.cat(parts)
        synchronize()
        return grown

    return {"grow": grow, "once": once, "same": lambda a, b: bool(torch.equal(a, b))}


def main() -> None:
    """Print one row per library (and device for torch)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pieces", type=int, default=2000)
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", nargs="+", default=None, help="torch devices (default: cpu, and cuda when present)")
    args = parser.parse_args()
    devices = args.device or (["cpu", "cuda"] if cuda_available() else ["cpu"])
    cases = {f"np.append, {args.pieces} x {PIECE}": numpy_pair(args.pieces), f"pd.concat, {args.frames} rows": pandas_pair(args.frames)}
    for device in devices:
        cases[f"torch.cat ({device}), {args.pieces} x {PIECE}"] = torch_pair(args.pieces, device)
    rows = []
    for label, pair in cases.items():
        assert pair["same"](pair["grow"](), pair["once"]()), label
        seconds = interleaved({"grow": pair["grow"], "once": pair["once"]}, args.repeats)
        grow, once = median(seconds["grow"]), median(seconds["once"])
        rows.append([label, grow * 1e3, once * 1e3, grow / once])
    print(table(["case", "grow in loop ms", "concatenate once ms", "ratio"], rows))


if __name__ == "__main__":
    main()
