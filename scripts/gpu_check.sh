#!/usr/bin/env bash
# The GPU check: what a CUDA machine can tell about this engine in at most 8 minutes (one H100 or H200).
#
#   bash scripts/gpu_check.sh                 # on the GPU machine, from the repository root or anywhere
#   bash scripts/gpu_check.sh --dry           # the same steps on CPU at tiny sizes, in seconds (the test suite runs it)
#   bash scripts/gpu_check.sh --budget 300 --out /tmp/records
#   bash scripts/gpu_check.sh --only eval-market,eval-msmt   # some steps only (names below)
#
# Steps, most important first, each under its own `timeout` and never past the deadline (start + budget):
#   env                       torch / torchvision / CUDA versions and the GPU           -> gpu-check/env.json
#   bench-train-globalpool    `partreid bench train`, pal_globalpool at 256x128, batch 32, ours vs DataLoader + PIL
#                             + fp32 (8 workers)                                        -> bench/train-<gpu>-globalpool.json
#   bench-train-mgn           the same for pal_mgn at 384x128, P x K = 16 x 8           -> bench/train-<gpu>-mgn.json
#   eval-market               `partreid bench eval --rerank` at Market scale on the GPU -> bench/eval-market-<gpu>.json
#   smoke-cuda, smoke-cpu     one smoke run on CUDA (fp32, TF32 off) and on CPU         -> gpu-smoke/{cuda,cpu}/
#   smoke-compare             equal within tolerance (engine.bench.compare_runs)         -> gpu-smoke/compare.json
#   eval-msmt                 `partreid bench eval` at MSMT17 scale on the GPU          -> bench/eval-msmt-<gpu>.json
#   synth-globalpool, synth-globalpool_ps
#                             only if time remains: a shortened gpu-profile GP vs GP+PS pair on synth-m, its length
#                             set from the measured img/s and the time left            -> gpu-synth/<model>-synth-m-s0/
# Every step appends one line to gpu-check/steps.jsonl when it ends (ok, failed: rc N, timeout, skipped), so a
# killed check loses only the running step; a failed step never stops the next. The end prints the summary table
# (engine.bench.gpu_check_summary; also gpu-check/summary.json).
#
# Where the records go: --out DIR if given; else, when $OUT is set (the device tool's folder that comes back), a
# staging folder packed after every step into $OUT/gpu_check_records.tar.gz (unpack it into results/), with
# $OUT/gpu_check_summary.txt and $OUT/gpu_check.log beside it; else results/ of this checkout.
# No weights or data are downloaded: models start from random weights (model_overrides.backbone.pretrained=false),
# data are SynthReID, rendered on the machine.
set -u -o pipefail

START=$(date +%s)
DRY=0
BUDGET=${GPU_CHECK_BUDGET:-480}
RES=""
ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry) DRY=1 ;;
    --budget) BUDGET=$2; shift ;;
    --out) RES=$2; shift ;;
    --only) ONLY=",$2,"; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
DEADLINE=$((START + BUDGET))
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi
PACK=0
if [ -z "$RES" ]; then
  if [ -n "${OUT:-}" ]; then RES="${TMPDIR:-/tmp}/gpu_check_results"; PACK=1; rm -rf "$RES"; else RES="$REPO/results"; fi
fi
mkdir -p "$RES/gpu-check" "$RES/bench"
RES=$(cd "$RES" && pwd)
STEPS="$RES/gpu-check/steps.jsonl"
: > "$STEPS"
LOG="$RES/gpu-check/gpu_check.log"
[ "$PACK" = 1 ] && LOG="$OUT/gpu_check.log"
: > "$LOG"
export PYTHONUNBUFFERED=1 PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
# the synth cache of this check (a fresh machine renders SynthReID once, then each later step reads it)
export PARTREID_CACHE=${PARTREID_CACHE:-${TMPDIR:-/tmp}/partreid_cache}
export PARTREID_CHECKPOINTS=${PARTREID_CHECKPOINTS:-${TMPDIR:-/tmp}/gpu_check_checkpoints}
[ "$DRY" = 1 ] && rm -rf "$PARTREID_CHECKPOINTS"

# `partreid` is this checkout's command line under $PYTHON (a file on PATH, so `timeout` can run it)
BIN="${TMPDIR:-/tmp}/gpu_check_bin.$$"
mkdir -p "$BIN"
printf '#!/usr/bin/env bash\nexec "%s" -m partreid_core.cli "$@"\n' "$PYTHON" > "$BIN/partreid"
chmod +x "$BIN/partreid"
export PATH="$BIN:$PATH"
trap 'rm -rf "$BIN"' EXIT

pack() {  # bring what exists so far back through $OUT (a killed check keeps every finished step)
  [ "$PACK" = 1 ] || return 0
  tar -czf "$OUT/.gpu_check_records.tar.gz" -C "$RES" . 2>/dev/null && \
    mv "$OUT/.gpu_check_records.tar.gz" "$OUT/gpu_check_records.tar.gz"
}

summary() {
  "$PYTHON" -c "import sys; from partreid_core.engine.bench import gpu_check_summary; print(gpu_check_summary(sys.argv[1])[1])" \
    "$RES" > "$RES/gpu-check/summary.txt" 2>>"$LOG" || echo "(summary failed: see the log)" > "$RES/gpu-check/summary.txt"
  [ "$PACK" = 1 ] && cp "$RES/gpu-check/summary.txt" "$OUT/gpu_check_summary.txt"
  pack
}

selected() { [ -z "$ONLY" ] || [[ "$ONLY" == *",$1,"* ]]; }

# step NAME TIMEOUT RECORD CMD...: run CMD under timeout (never past the deadline), log it, append its status line
step() {
  local name=$1 limit=$2 record=$3; shift 3
  local now left t0 rc status
  selected "$name" || return 0
  now=$(date +%s); left=$((DEADLINE - now - 5))
  if [ "$left" -lt 10 ]; then
    status="skipped: no time left"; rc=-1; t0=$now
  else
    [ "$limit" -gt "$left" ] && limit=$left
    echo "== $name (limit ${limit}s) $(date -u +%H:%M:%S)" | tee -a "$LOG"
    t0=$(date +%s)
    timeout -k 5 "$limit" "$@" >>"$LOG" 2>&1
    rc=$?
    if [ "$rc" = 0 ]; then status=ok; elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then status="timeout after ${limit}s"
    else status="failed: rc $rc"; fi
  fi
  local dt=$(( $(date +%s) - t0 ))
  printf '{"step": "%s", "status": "%s", "rc": %s, "seconds": %s, "record": "%s"}\n' \
    "$name" "$status" "$rc" "$dt" "$record" >> "$STEPS"
  echo "   $name: $status (${dt}s)" | tee -a "$LOG"
  pack
  [ "$status" = ok ]
}

# ------------------------------------------------------------------ sizes: the real check, or the dry one
NOPRE="model_overrides.backbone.pretrained=false"
if [ "$DRY" = 1 ]; then
  DEV=cpu; SMOKE_DEV=cpu; PROFILE=smoke; BENCH_DATA=synth-tiny; PAIR_DATA=synth-tiny
  TRAIN_GP=(--steps 2 --warmup 1 --workers 0); TRAIN_MGN=(--steps 2 --warmup 1 --workers 0)
  EVAL_M=(--queries 150 --gallery 1200 --dim 32 --threads 1); EVAL_S=(--queries 120 --gallery 900 --dim 32 --threads 1)
  RENDER=(); PAIR_MIN=0
else
  DEV=cuda; SMOKE_DEV=cuda; PROFILE=gpu; BENCH_DATA=synth-s; PAIR_DATA=synth-m
  TRAIN_GP=(--steps 60 --warmup 10 --workers 8); TRAIN_MGN=(--steps 20 --warmup 5 --workers 8)
  EVAL_M=(); EVAL_S=()
  RENDER=(--set data.dataset_kwargs.workers=12)  # render SynthReID on 12 of the 16 cores
  PAIR_MIN=100
fi

# ------------------------------------------------------------------ env
step env 60 gpu-check/env.json "$PYTHON" -c "
import json, os, subprocess, sys, torch, torchvision
env = {'python': sys.version.split()[0], 'torch': torch.__version__, 'torchvision': torchvision.__version__,
       'cuda_available': torch.cuda.is_available(), 'cuda': torch.version.cuda, 'cpus': os.cpu_count(),
       'dry': $DRY}
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    env.update(gpu=p.name, gpu_memory_gb=round(p.total_memory / 2**30, 1), sms=p.multi_processor_count,
               capability='%d.%d' % (p.major, p.minor), cudnn=torch.backends.cudnn.version())
    try:
        env['nvidia_smi'] = subprocess.run(['nvidia-smi', '--query-gpu=name,driver_version,clocks.max.sm',
                                            '--format=csv,noheader'], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
print(json.dumps(env, indent=2))
open(sys.argv[1], 'w').write(json.dumps(env, indent=2))
if not $DRY and not torch.cuda.is_available():
    sys.exit('CUDA is not available: the cuda steps will fail')
" "$RES/gpu-check/env.json"
TAG=$("$PYTHON" -c "
import json, re, sys
e = json.load(open(sys.argv[1]))
m = re.search(r'([a-z]\d{2,4})', e.get('gpu', '').lower())
print('dry' if e['dry'] else (m.group(1) if m else 'cuda'))" "$RES/gpu-check/env.json" 2>/dev/null || echo cuda)

# ------------------------------------------------------------------ training throughput, ours vs conventional
for m in globalpool mgn; do
  if [ "$m" = globalpool ]; then args=("${TRAIN_GP[@]}"); limit=150; else args=("${TRAIN_MGN[@]}"); limit=180; fi
  rec="bench/train-$TAG-$m.json"
  step "bench-train-$m" "$limit" "$rec" partreid bench train --recipe "pal_$m" --profile "$PROFILE" \
    --dataset "$BENCH_DATA" --device "$DEV" "${args[@]}" --set "$NOPRE" "${RENDER[@]}" --out "$RES/$rec"
done

# ------------------------------------------------------------------ evaluation + re-ranking at Market scale
step eval-market 150 "bench/eval-market-$TAG.json" partreid bench eval --scale market --device "$DEV" --rerank \
  "${EVAL_M[@]}" --out "$RES/bench/eval-market-$TAG.json"

# ------------------------------------------------------------------ the same smoke run on CUDA and on CPU
# fp32 on both (train.amp=off; NVIDIA_TF32_OVERRIDE=0 keeps cuBLAS / cuDNN off TF32), no flip (the CUDA and the CPU
# generators draw different flips); the recipe's sampler runs on a CPU generator, so both see the same batches.
SMOKE=(--recipe pal_globalpool --profile smoke --experiment gpu-smoke --set train.amp=off --set data.flip_p=0
       --set train.epochs=2 --set train.iters_per_epoch=5 --out "$RES")
selected smoke-cuda && rm -rf "$RES/gpu-smoke/cuda"
selected smoke-cpu && rm -rf "$RES/gpu-smoke/cpu"
step smoke-cuda 120 gpu-smoke/cuda env NVIDIA_TF32_OVERRIDE=0 partreid train "${SMOKE[@]}" \
  --device "$SMOKE_DEV" --run cuda
step smoke-cpu 120 gpu-smoke/cpu partreid train "${SMOKE[@]}" --device cpu --run cpu
step smoke-compare 30 gpu-smoke/compare.json "$PYTHON" -c "
import json, sys
from partreid_core.engine.bench import compare_runs
r = compare_runs(sys.argv[1] + '/cuda', sys.argv[1] + '/cpu')
open(sys.argv[1] + '/compare.json', 'w').write(json.dumps(r, indent=2))
print(json.dumps(r, indent=2))
sys.exit(0 if r['ok'] else 1)" "$RES/gpu-smoke"

# ------------------------------------------------------------------ MSMT17-scale evaluation on the GPU
step eval-msmt 180 "bench/eval-msmt-$TAG.json" partreid bench eval --scale msmt --device "$DEV" "${EVAL_S[@]}" \
  --out "$RES/bench/eval-msmt-$TAG.json"

# ------------------------------------------------------------------ as time remains: a shortened GP vs GP+PS pair
left=$((DEADLINE - $(date +%s) - 10))
if [ "$left" -ge "$PAIR_MIN" ]; then
  per_run=$((left / 2))
  # iterations of 32 images that fill ~40% of each run's share at the measured img/s (the rest: rendering synth-m
  # once, model set-up, the final evaluation with re-ranking); 100 iterations per epoch, at least 2 epochs
  EPOCHS=$("$PYTHON" -c "
import json, sys
try:
    ips = json.load(open(sys.argv[1]))['result']['ours_images_per_s']
except (OSError, KeyError, ValueError):
    ips = 1000.0
print(max(2, min(60, int(0.4 * int(sys.argv[2]) * ips / (32 * 100)))))" "$RES/bench/train-$TAG-globalpool.json" "$per_run")
  M1=$((EPOCHS * 25 / 60)); M2=$((EPOCHS * 50 / 60)); [ "$M1" -lt 1 ] && M1=1; [ "$M2" -le "$M1" ] && M2=$((M1 + 1))
  PAIR=(--recipe pal_globalpool --profile "$PROFILE" --dataset "$PAIR_DATA" --device "$DEV" --experiment gpu-synth
        --set "$NOPRE" --set train.epochs="$EPOCHS" --set train.iters_per_epoch=100 --set eval.every=0
        --set "schedule.milestones=[$M1,$M2]" "${RENDER[@]}" --out "$RES")
  [ "$DRY" = 1 ] && PAIR+=(--set train.iters_per_epoch=2 --set train.epochs=1)
  echo "   pair: $EPOCHS epochs x 100 iterations each, ${per_run}s per run" | tee -a "$LOG"
  for model in globalpool globalpool_ps; do
    step "synth-$model" "$per_run" "gpu-synth/$model-$PAIR_DATA-s0" partreid train "${PAIR[@]}" --model "$model"
  done
else
  for model in globalpool globalpool_ps; do
    selected "synth-$model" || continue
    printf '{"step": "synth-%s", "status": "skipped: %ss left", "rc": -1, "seconds": 0, "record": ""}\n' \
      "$model" "$left" >> "$STEPS"
  done
fi

summary
echo
echo "GPU check: $(( $(date +%s) - START ))s of a ${BUDGET}s budget; records under $RES$([ "$PACK" = 1 ] && echo " (packed into \$OUT/gpu_check_records.tar.gz)")"
cat "$RES/gpu-check/summary.txt"
