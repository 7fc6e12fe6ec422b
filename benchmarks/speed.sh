#!/usr/bin/env bash
# The speed figures of issue #14 in one command, for the checkout this script lives in (no Fixit/TorchFix):
#   1. the training-code sample (benchmarks/corpus/build_training_sample.py -> corpus/training/src), unless present;
#   2. throughput on it          -> benchmarks/results/throughput_training.md
#   3. throughput on 2,300 files -> benchmarks/results/throughput_2300.md (needs corpus/src)
#   4. the 20 largest files of each corpus, perflint vs a bare parse -> benchmarks/results/largest_files.md
#      (the PyPI part needs corpus/src)
# Times on main b7597d3 (2 cores, load about 1): 2. ~3 min, 3. ~5-10 min (two rounds and the per-rule table), 4. ~2 min.
# Usage: bash benchmarks/speed.sh [training|2300|largest ...]   (no argument: all three)
# Environment: PYTHON (default: python), CORPUS (default: <repo>/corpus/src), TRAINING (default:
# <repo>/corpus/training/src), RUNS_TRAINING (default 3), RUNS_2300 (default 2), MIRROR (default /work/.mirror).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
CORPUS=${CORPUS:-$PWD/corpus/src}
TRAINING=${TRAINING:-$PWD/corpus/training/src}
RESULTS=benchmarks/results
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(training 2300 largest)

if [ ! -d "$TRAINING" ] && [ "$TRAINING" = "$PWD/corpus/training/src" ]; then
  "$PYTHON" benchmarks/corpus/build_training_sample.py --mirror "${MIRROR:-/work/.mirror}"
fi
for step in "${steps[@]}"; do
  case $step in
    training)
      "$PYTHON" benchmarks/throughput.py "$TRAINING" --runs "${RUNS_TRAINING:-3}" --no-peers --cold-only --output "$RESULTS/throughput_training.md" ;;
    2300)
      [ -d "$CORPUS" ] || { echo "no $CORPUS (python benchmarks/corpus/build_corpus.py): 2300 skipped" >&2; continue; }
      "$PYTHON" benchmarks/throughput.py "$CORPUS" --sample 2300 --runs "${RUNS_2300:-2}" --no-peers \
        --output "$RESULTS/throughput_2300.md" ;;
    largest)
      out="$RESULTS/largest_files.md"
      printf '# The 20 largest files, perflint vs a bare parse (`benchmarks/speed.sh largest`, %s)\n\n' \
        "$(git rev-parse --short HEAD)" > "$out"
      "$PYTHON" benchmarks/scaling.py "$TRAINING" --largest 20 --runs 1 --output "$out"
      if [ -d "$CORPUS" ]; then
        "$PYTHON" benchmarks/scaling.py "$CORPUS" --largest 20 --runs 1 --output "$out"
      fi ;;
    *) echo "unknown step: $step (training, 2300, largest)" >&2; exit 2 ;;
  esac
done
