"""PFL104: an evaluation loop after ``model.eval()`` with autograd on vs inside ``torch.no_grad()``.

Three measurements:
- speed: ms per batch of an MLP (256 -> 1024 -> 1024 -> 8, GELU) in eval mode, grad on vs ``no_grad``,
  interleaved, outputs reduced to a Python float and dropped;
- memory: RSS (and the CUDA allocator) after keeping every batch's output in a list, each case in a fresh
  subprocess with ``MALLOC_MMAP_THRESHOLD_=131072``;
- exactness: whether the outputs of common modules in eval mode are bit-identical with and without
  ``no_grad`` (``nn.TransformerEncoder`` takes a fused fast path only when grad is off).

Usage: ``python benchmarks/bench_eval_no_grad.py [--batches 50] [--batch-size 1024] [--device cpu cuda]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchutil import MIB, cuda_available, interleaved, median, rss_mib, run_worker, table

MODES = ("grad-on", "no_grad")


def _mlp(device: object) -> object:
    from torch import nn

    return nn.Sequential(nn.Linear(256, 1024), nn.GELU(), nn.Linear(1024, 1024), nn.GELU(), nn.Linear(1024, 8)).to(device).eval()


def memory_worker(mode: str, device_name: str, batches: int, batch_size: int) -> dict[str, float]:
    """Keep every batch's output, as a prediction list does; return the growth."""
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(1)
    device = torch.device(device_name)
    model = _mlp(device)
    start_rss = rss_mib()
    start_cuda = torch.cuda.memory_allocated() if device.type == "cuda" else 0
    kept = []
    context = torch.no_grad() if mode == "no_grad" else torch.enable_grad()
    with context:
        for _ in range(batches):
            kept.append(model(torch.randn(batch_size, 256, device=device)))
    result = {"rss_growth_mib": rss_mib() - start_rss}
    if device.type == "cuda":
        torch.cuda.synchronize()
        result["cuda_kept_mib"] = (torch.cuda.memory_allocated() - start_cuda) / MIB
    return result


def speed(device_name: str, batches: int, batch_size: int, repeats: int) -> dict[str, float]:
    """Median ms per batch for each mode."""
    import torch

    torch.manual_seed(0)
    device = torch.device(device_name)
    model = _mlp(device)
    inputs = [torch.randn(batch_size, 256, device=device) for _ in range(batches)]

    def run(mode: str) -> None:
        context = torch.no_grad() if mode == "no_grad" else torch.enable_grad()
        with context:
            total = 0.0
            for x in inputs:
                total += model(x).sum().item()

    seconds = interleaved({mode: (lambda mode=mode: run(mode)) for mode in MODES}, repeats)
    return {mode: median(values) / batches * 1e3 for mode, values in seconds.items()}


def exactness(device_name: str) -> list[list[object]]:
    """Per module: are eval-mode outputs bit-identical with and without no_grad, and the largest difference."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    device = torch.device(device_name)
    layer = nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128, batch_first=True)
    modules = {
        "TransformerEncoder": nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False),
        "MultiheadAttention": nn.MultiheadAttention(64, 4, batch_first=True),
        "LSTM": nn.LSTM(64, 32, batch_first=True),
        "MLP": nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 8)),
    }
    x = torch.randn(8, 20, 64, device=device)
    rows = []
    for name, module in modules.items():
        module = module.to(device).eval()
        call = (lambda m=module: m(x, x, x)) if name == "MultiheadAttention" else (lambda m=module: m(x))
        with_grad = _first(call())
        with torch.no_grad():
            without = _first(call())
        rows.append([name, torch.equal(with_grad, without), (with_grad - without).abs().max().item()])
    return rows


def _first(output: object) -> object:
    return output[0] if isinstance(output, tuple) else output


def main() -> None:
    """Print the speed, memory and exactness tables for each device."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", nargs="+", default=None, help="devices (default: cpu, and cuda when present)")
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "DEVICE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(memory_worker(args.worker[0], args.worker[1], args.batches, args.batch_size)))
        return
    devices = args.device or (["cpu", "cuda"] if cuda_available() else ["cpu"])
    sizes = ["--batches", str(args.batches), "--batch-size", str(args.batch_size)]
    print(f"MLP 256 -> 1024 x 2 -> 8 in eval mode, {args.batches} batches of {args.batch_size}")
    for device in devices:
        print(f"\ndevice: {device}")
        timing = speed(device, args.batches, args.batch_size, args.repeats)
        memory = {
            mode: run_worker(Path(__file__), [*sizes, "--worker", mode, device], {"MALLOC_MMAP_THRESHOLD_": "131072"})
            for mode in MODES
        }
        rows = []
        for mode in MODES:
            row = [mode, timing[mode], memory[mode]["rss_growth_mib"]]
            if device == "cuda":
                row.append(memory[mode]["cuda_kept_mib"])
            rows.append(row)
        header = ["autograd", "ms/batch (median)", "RSS growth MiB, outputs kept"]
        if device == "cuda":
            header.append("CUDA kept MiB")
        print(table(header, rows))
        print(f"speed-up of no_grad: {timing['grad-on'] / timing['no_grad']:.2f}x")
        print(table(["module (eval)", "bit-identical", "max |difference|"], exactness(device)))


if __name__ == "__main__":
    main()
