"""PFL103: memory of ``total += loss`` vs ``total += loss.detach()`` over N batches.

Each case runs in a fresh subprocess with ``MALLOC_MMAP_THRESHOLD_=131072``:
- ``backward``: a training loop (``loss.backward()`` and an optimizer step each batch), the trainer's case;
- ``no-backward``: a loop that computes the loss with autograd on but never backpropagates (an evaluation loop
  without ``no_grad``), where the accumulated graph keeps every batch's activations.
Besides RSS (and the CUDA allocator when present) it counts the autograd nodes reachable from ``total``: the
graph that ``total`` keeps alive.

Usage: ``python benchmarks/bench_loss_accumulation.py [--batches 20] [--batch-size 1024] [--device cpu cuda]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchutil import MIB, cuda_available, rss_mib, run_worker, table

CASES = [(loop, accumulate) for loop in ("backward", "no-backward") for accumulate in ("loss", "loss.detach()")]


def reachable_nodes(value: object) -> int:
    """Number of autograd nodes reachable from ``value.grad_fn`` (0 for a float or a detached tensor)."""
    root = getattr(value, "grad_fn", None)
    seen, stack = set(), [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(child for child, _ in node.next_functions if child is not None)
    return len(seen)


def worker(loop: str, accumulate: str, device_name: str, batches: int, batch_size: int) -> dict[str, float]:
    """Run one case in this process and return its measurements."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    torch.set_num_threads(1)
    device = torch.device(device_name)
    lstm = nn.LSTM(32, 64, batch_first=True).to(device)
    head = nn.Linear(64, 1).to(device)
    optimizer = torch.optim.SGD([*lstm.parameters(), *head.parameters()], lr=1e-3)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start_cuda = torch.cuda.memory_allocated() if device.type == "cuda" else 0
    start_rss = rss_mib()
    total = 0.0
    started = time.perf_counter()
    for _ in range(batches):
        sequence, _ = lstm(torch.randn(batch_size, 20, 32, device=device))
        loss = head(sequence[:, -1]).square().mean()
        if loop == "backward":
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        total += loss if accumulate == "loss" else loss.detach()
    mean_loss = total.item() / batches
    result = {
        "rss_growth_mib": rss_mib() - start_rss,
        "ms_per_batch": (time.perf_counter() - started) / batches * 1e3,
        "graph_nodes_kept": reachable_nodes(total),
        "mean_loss": mean_loss,
    }
    if device.type == "cuda":
        result["cuda_kept_mib"] = (torch.cuda.memory_allocated() - start_cuda) / MIB
        result["cuda_peak_mib"] = (torch.cuda.max_memory_allocated() - start_cuda) / MIB
    return result


def main() -> None:
    """Run every case in a fresh subprocess and print one table per device."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--device", nargs="+", default=None, help="devices (default: cpu, and cuda when present)")
    parser.add_argument("--worker", nargs=3, metavar=("LOOP", "ACCUMULATE", "DEVICE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker, args.batches, args.batch_size)))
        return

    devices = args.device or (["cpu", "cuda"] if cuda_available() else ["cpu"])
    sizes = ["--batches", str(args.batches), "--batch-size", str(args.batch_size)]
    print(f"LSTM(32 -> 64, L=20) + Linear, {args.batches} batches of {args.batch_size}, fresh process per case")
    for device in devices:
        rows = []
        for loop, accumulate in CASES:
            result = run_worker(Path(__file__), [*sizes, "--worker", loop, accumulate, device],
                                {"MALLOC_MMAP_THRESHOLD_": "131072"})
            row = [loop, f"total += {accumulate}", result["rss_growth_mib"], result["graph_nodes_kept"],
                   result["ms_per_batch"], result["mean_loss"].hex()]
            if device == "cuda":
                row += [result["cuda_kept_mib"], result["cuda_peak_mib"]]
            rows.append(row)
        header = ["loop", "accumulation", "RSS growth MiB", "graph nodes kept", "ms/batch", "mean loss (hex)"]
        if device == "cuda":
            header += ["CUDA kept MiB", "CUDA peak MiB"]
        print(f"\ndevice: {device}")
        print(table(header, rows))


if __name__ == "__main__":
    main()
