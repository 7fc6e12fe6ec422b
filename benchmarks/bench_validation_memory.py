"""PFL101: memory kept by ``kept.append(outputs.cpu())`` vs ``outputs.detach().cpu()``, per batch.

Each case runs in a fresh subprocess with ``MALLOC_MMAP_THRESHOLD_=131072`` (freed activations go back to the
OS, so RSS tracks what is really kept):
- ``grad-on``: an evaluation loop with autograd enabled (``model.eval()`` does not disable it), no backward;
- ``grad-off``: the same loop inside ``torch.no_grad()`` (the seed's validate());
- ``train``: grad on with ``loss.backward()`` and an optimizer step every batch (the trainer's train-epoch log).
The model is an LSTM(32 -> 64, L=20) with a linear head; on CUDA the allocator's peak is recorded too.

Usage: ``python benchmarks/bench_validation_memory.py [--batches 20] [--batch-size 1024] [--device cpu cuda]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchutil import MIB, cuda_available, median, rss_mib, run_worker, table

CASES = [(grad, keep) for grad in ("grad-on", "grad-off", "train") for keep in ("cpu", "detach")]


def worker(grad: str, keep: str, device_name: str, batches: int, batch_size: int) -> dict[str, float]:
    """Run one case in this process and return its measurements."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    torch.set_num_threads(1)
    device = torch.device(device_name)
    lstm = nn.LSTM(32, 64, batch_first=True).to(device)
    head = nn.Linear(64, 1).to(device)
    optimizer = torch.optim.SGD([*lstm.parameters(), *head.parameters()], lr=1e-3)
    kept = []
    start_rss = rss_mib()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start_cuda = torch.cuda.memory_allocated() if device.type == "cuda" else 0
    growth = []
    started = time.perf_counter()
    context = torch.no_grad() if grad == "grad-off" else torch.enable_grad()
    with context:
        for _ in range(batches):
            before = rss_mib()
            x = torch.randn(batch_size, 20, 32, device=device)
            sequence, _ = lstm(x)
            outputs = head(sequence[:, -1])
            kept.append(outputs.cpu() if keep == "cpu" else outputs.detach().cpu())
            if grad == "train":
                optimizer.zero_grad()
                outputs.square().mean().backward()
                optimizer.step()
            growth.append(rss_mib() - before)
    elapsed = time.perf_counter() - started
    result = {
        "rss_growth_mib": rss_mib() - start_rss,
        "median_growth_per_batch_mib": median(growth),
        "ms_per_batch": elapsed / batches * 1e3,
    }
    if device.type == "cuda":
        result["cuda_peak_mib"] = (torch.cuda.max_memory_allocated() - start_cuda) / MIB
        result["cuda_kept_mib"] = (torch.cuda.memory_allocated() - start_cuda) / MIB
    return result


def main() -> None:
    """Run every case in a fresh subprocess and print one table per device."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--device", nargs="+", default=None, help="devices (default: cpu, and cuda when present)")
    parser.add_argument("--worker", nargs=3, metavar=("GRAD", "KEEP", "DEVICE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker, args.batches, args.batch_size)))
        return

    devices = args.device or (["cpu", "cuda"] if cuda_available() else ["cpu"])
    sizes = ["--batches", str(args.batches), "--batch-size", str(args.batch_size)]
    env = {"MALLOC_MMAP_THRESHOLD_": "131072"}
    print(f"LSTM(32 -> 64, L=20) + Linear, {args.batches} batches of {args.batch_size}, fresh process per case")
    for device in devices:
        rows = []
        for grad, keep in CASES:
            result = run_worker(Path(__file__), [*sizes, "--worker", grad, keep, device], env)
            kept = "outputs.cpu()" if keep == "cpu" else "outputs.detach().cpu()"
            row = [grad, kept, result["rss_growth_mib"], result["median_growth_per_batch_mib"], result["ms_per_batch"]]
            if device == "cuda":
                row += [result["cuda_kept_mib"], result["cuda_peak_mib"]]
            rows.append(row)
        header = ["autograd", "kept", "RSS growth MiB", "median MiB/batch", "ms/batch"]
        if device == "cuda":
            header += ["CUDA kept MiB", "CUDA peak MiB"]
        print(f"\ndevice: {device}")
        print(table(header, rows))


if __name__ == "__main__":
    main()
