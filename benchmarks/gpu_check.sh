#!/usr/bin/env bash
# GPU check (about 9 minutes for all 8 cases on one H200): the plugin's jax and torch cases
# on one GPU, synthetic and Nietzsche, batch 128, unroll on and off, each timed side by side with a
# plain model.fit (benchmarks/plain_fit.py) by benchmarks/overhead.py, which prints the plugin/plain
# ratio and the memory figures (framework peak, NVML per-process peak, NVML device used peak).
#
# It runs the python3 on PATH, which needs the frameworks (jax, torch); Keras comes from the wheels
# in .whl/ when that python3 lacks it. Where Nietzsche cannot be downloaded, put a copy in .data/
# (both git-ignored; docs/development.md). Then, from the checkout:
#   bash benchmarks/gpu_check.sh
# Figures go to stdout and to $OUT/gpu_check.txt when $OUT is set (else to a temporary file).
set -uo pipefail
cd "$(dirname "$0")/.."
LOG=${OUT:-$(mktemp -d)}/gpu_check.txt
: > "$LOG"

if ! python3 -c "import keras" 2>/dev/null; then
  site=$(mktemp -d)
  python3 -m pip install -q --no-index --no-deps --target "$site" .whl/*.whl || exit 1
  export PYTHONPATH=$site:$PWD/src
else
  export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH}
fi
# The package lives under src/ (not pip-installed on that machine: PYTHONPATH finds it).
if [ -d .data ]; then export RNNBENCH_DATA_DIR=$PWD/.data; fi
# The plugin is not pip-installed there: load it by module; keep warnings as warnings.
export RNNBENCH_PYTEST_ARGS="-p no:rnnbench -p pytest_rnnbench.plugin -o filterwarnings=default"

{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  KERAS_BACKEND=jax python3 -c "import sys, keras, jax, torch; print('python', sys.version.split()[0], 'keras', keras.__version__, 'jax', jax.__version__, 'torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())" 2>&1 | tail -1
} | tee -a "$LOG"

# Cheapest first, so a run cut short still reports most cases. Slow cases get fewer timed epochs.
run() {
  timeout 300 python3 benchmarks/overhead.py --gpus 1 --rounds 1 "$@" 2>&1 | tee -a "$LOG"
}
run --backend torch --dataset synthetic --no-unroll --repeats 3
run --backend jax --dataset synthetic --repeats 3
run --backend jax --dataset synthetic --no-unroll --repeats 3
run --backend jax --dataset nietzsche --repeats 2
run --backend jax --dataset nietzsche --no-unroll --repeats 2
run --backend torch --dataset nietzsche --no-unroll --repeats 2
run --backend torch --dataset synthetic --repeats 1
run --backend torch --dataset nietzsche --repeats 1
echo "gpu_check done" | tee -a "$LOG"
