#!/usr/bin/env bash
# Before/after check of perflint's fixes on the reference trainer, on a machine with CUDA.
#
# Runs the trainer as it is ("before") and a fixed copy ("after") in smoke mode and in a capped bench mode,
# records time per epoch and peak GPU memory from each run's timing.json, checks that metrics.json is
# byte-identical before and after, checks two CUDA runs of test mode for determinism, and prints a table.
# Budget: about 5 minutes on an H200 with the defaults.
#
# The "after" copy is made, in this order of preference, from:
#   AFTER_DIR=<dir holding a fixed reference_trainer/>   a copy fixed elsewhere (e.g. by perflint on a dev box)
#   python -m perflint fix --apply --unsafe-fixes <copy>  when perflint (and libcst) import here
#   python benchmarks/hand_fixes.py <copy>                the listed rewrites applied by exact text replacement
# FIXER=perflint|hand forces one of the last two.  The diff that was applied is saved as $OUT/fix.diff.
#
# Environment: OUT (default /tmp/gpu_check), PYTHON (default python3), SMOKE_EPOCHS (default 2),
# SMOKE_MAX_BATCHES (default: all), BENCH_EPOCHS (1), BENCH_MAX_BATCHES (150; 0 skips bench mode),
# BENCH_TIMEOUT (seconds per bench run, 240), DEVICE (cuda; cpu makes a quick dry run of the script possible).
set -uo pipefail

OUT="${OUT:-/tmp/gpu_check}"
PYTHON="${PYTHON:-python3}"
SMOKE_EPOCHS="${SMOKE_EPOCHS:-2}"
SMOKE_MAX_BATCHES="${SMOKE_MAX_BATCHES:-}"
DEVICE="${DEVICE:-cuda}"
BENCH_EPOCHS="${BENCH_EPOCHS:-1}"
BENCH_MAX_BATCHES="${BENCH_MAX_BATCHES:-150}"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-240}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(mktemp -d /tmp/gpu_check_work.XXXXXX)"
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"

if [[ "$DEVICE" == "cuda" ]]; then
    "$PYTHON" -c 'import torch; assert torch.cuda.is_available(), "no CUDA device"
print("torch", torch.__version__, torch.cuda.get_device_name(0))' || exit 1
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
fi

# --- the "after" copy -----------------------------------------------------------------------------------
mkdir -p "$WORK/before" "$WORK/after"
cp -r "$REPO/reference_trainer" "$WORK/before/"
if [[ -n "${AFTER_DIR:-}" ]]; then
    cp -r "$AFTER_DIR/reference_trainer" "$WORK/after/"
    fixer="AFTER_DIR"
else
    cp -r "$REPO/reference_trainer" "$WORK/after/"
    fixer="${FIXER:-perflint}"
    if [[ "$fixer" == "perflint" ]]; then
        if ! (cd "$REPO" && "$PYTHON" -m perflint fix --apply --unsafe-fixes "$WORK/after/reference_trainer") \
                >"$OUT/perflint_fix.log" 2>&1; then
            echo "perflint fix failed here (see perflint_fix.log): falling back to the hand-applied rewrites"
            rm -rf "$WORK/after/reference_trainer" && cp -r "$REPO/reference_trainer" "$WORK/after/"
            fixer="hand"
        fi
    fi
    if [[ "$fixer" == "hand" ]]; then
        "$PYTHON" "$REPO/benchmarks/hand_fixes.py" "$WORK/after" >"$OUT/hand_fixes.log" 2>&1 || exit 1
    fi
fi
find "$WORK" -name __pycache__ -prune -exec rm -rf {} +
(cd "$WORK" && diff -ru before/reference_trainer after/reference_trainer) >"$OUT/fix.diff"
echo "after copy made by: $fixer ($(grep -c '^+[^+]' "$OUT/fix.diff") lines changed)"

# --- runs -----------------------------------------------------------------------------------------------
# run NAME VERSION SECONDS ARGS...: train from $WORK/VERSION into $OUT/NAME, log to $OUT/NAME/log.txt.
run() {
    local name="$1" version="$2" limit="$3"
    shift 3
    mkdir -p "$OUT/$name"
    local started=$SECONDS
    (cd "$WORK/$version" && timeout "$limit" "$PYTHON" -m reference_trainer train --out "$OUT/$name" "$@") \
        >"$OUT/$name/log.txt" 2>&1
    local status=$?
    echo "$name: exit $status after $((SECONDS - started)) s: $(tail -n 1 "$OUT/$name/log.txt")"
}

run det_a before 120 --mode test --device "$DEVICE" --seed 0
run det_b before 120 --mode test --device "$DEVICE" --seed 0
smoke_args=(--mode smoke --device "$DEVICE" --seed 0 --epochs "$SMOKE_EPOCHS")
[[ -n "$SMOKE_MAX_BATCHES" ]] && smoke_args+=(--max-batches "$SMOKE_MAX_BATCHES")
run smoke_before before 200 "${smoke_args[@]}"
run smoke_after after 200 "${smoke_args[@]}"
if [[ "$BENCH_MAX_BATCHES" != "0" ]]; then
    bench_args=(--mode bench --device "$DEVICE" --seed 0 --epochs "$BENCH_EPOCHS" --max-batches "$BENCH_MAX_BATCHES")
    run bench_before before "$BENCH_TIMEOUT" "${bench_args[@]}"
    run bench_after after "$BENCH_TIMEOUT" "${bench_args[@]}"
fi

# --- table ----------------------------------------------------------------------------------------------
"$PYTHON" - "$OUT" "$fixer" <<'EOF' | tee "$OUT/summary.md"
import json, sys
from pathlib import Path

out, fixer = Path(sys.argv[1]), sys.argv[2]


def load(name, file):
    path = out / name / file
    return json.loads(path.read_text()) if path.exists() else None


def same(a, b):
    pa, pb = out / a / "metrics.json", out / b / "metrics.json"
    if not (pa.exists() and pb.exists()):
        return "missing"
    return "yes" if pa.read_bytes() == pb.read_bytes() else "NO"


print(f"\nafter = {fixer}; CUDA test-mode runs bit-identical: {same('det_a', 'det_b')}\n")
print("| run | data s | sampler build s | epoch | train s | validate s | peak CUDA MiB | RSS MiB | metrics identical |")
print("|---|---|---|---|---|---|---|---|---|")
for mode in ("smoke", "bench"):
    for version in ("before", "after"):
        name = f"{mode}_{version}"
        timing = load(name, "timing.json")
        if timing is None:
            if (out / name).exists():
                print(f"| {name} | (no timing.json: see {name}/log.txt) | | | | | | | |")
            continue
        identical = same(f"{mode}_before", f"{mode}_after")
        for epoch in timing["epochs"]:
            memory = epoch["memory"]
            print(
                f"| {name} | {timing['data_s']:.1f} | {timing['sampler_build_s']:.2f} | {epoch['epoch']} "
                f"| {epoch['train_s']:.2f} | {epoch['validate_s']:.2f} "
                f"| {memory.get('cuda_max_allocated_mib', float('nan')):.0f} | {memory['rss_mib']:.0f} | {identical} |"
            )
for name in ("smoke_before", "bench_before"):
    metrics = load(name, "metrics.json")
    if metrics:
        last = metrics["epochs"][-1]
        print(f"\n{name}: last epoch ic={last['ic']:.4f} rank_ic={last['rank_ic']:.4f} sharpe={last['sharpe']:.3f}"
              f" val_loss={last['val_loss']:.6f} ({metrics['n_train_samples']:,} train samples)")
EOF
rm -rf "$WORK"
