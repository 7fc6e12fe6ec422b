"""PFL105: ``running += loss.item()`` on every training step vs accumulating on the device and syncing once.

A small MLP (64 -> 256 -> 256 -> 1) trained with Adam on fixed batches, so each step is short and the host/device
round trip shows. The two loops are timed interleaved; the median ms per step is reported for each batch size.
On a CPU there is nothing to wait for: the difference is the cost of ``.item()`` itself.

Usage: ``python benchmarks/bench_host_sync.py [--steps 200] [--batch-sizes 256 8192] [--device cpu cuda]``
"""

from __future__ import annotations

import argparse

from benchutil import cuda_available, interleaved, median, table



def measure(device_name: str, batch_size: int, steps: int, repeats: int) -> dict[str, float]:
    """Median ms per step of the per-step-sync loop and of the on-device accumulation."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    torch.set_num_threads(1)
    device = torch.device(device_name)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 1)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    features, targets = torch.randn(batch_size, 64, device=device), torch.randn(batch_size, 1, device=device)
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step() -> torch.Tensor:
        loss = nn.functional.mse_loss(model(features), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    def per_step_item() -> float:
        running = 0.0
        for _ in range(steps):
            running += step().item()
        return running

    def on_device() -> float:
        running = torch.zeros((), device=device)
        for _ in range(steps):
            running += step().detach()
        return running.item()

    def timed(loop):
        def run() -> None:
            loop()
            synchronize()

        return run

    for _ in range(3):
        per_step_item(), on_device()
    seconds = interleaved({"item": timed(per_step_item), "device": timed(on_device)}, repeats)
    return {name: median(values) / steps * 1e3 for name, values in seconds.items()}


def main() -> None:
    """Print one table per device."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 8192])
    parser.add_argument("--device", nargs="+", default=None, help="devices (default: cpu, and cuda when present)")
    args = parser.parse_args()
    devices = args.device or (["cpu", "cuda"] if cuda_available() else ["cpu"])
    for device in devices:
        rows = []
        for batch_size in args.batch_sizes:
            result = measure(device, batch_size, args.steps, args.repeats)
            rows.append([batch_size, result["item"], result["device"], result["item"] / result["device"]])
        print(f"\ndevice: {device}, {args.steps} steps")
        print(table(["batch", "ms/step, loss.item() each step", "ms/step, on-device sum", "ratio"], rows))


if __name__ == "__main__":
    main()
