#!/usr/bin/env bash
# bench/gpu_check.sh: every GPU number of this package in one run, into one results file.
#
# ASSUMES THE PACKAGE IS INSTALLED (README, "Install"): a CUDA build of torch first, then, in the repository root,
# `pip install -e ".[dev]"` (MONAI and nbdev, which the benchmarks and notebook tests use, come with the dev extra).
# On a machine with no registry, `bash bench/gpu_check.sh --fetch-wheels .whl` (run where pip works) downloads the
# wheels it lacks; the run-book (nbs/11_gpu_runbook.ipynb) shows how to install them there.
#
# Run from the repository root, first thing on a new GPU box:
#   bash bench/gpu_check.sh [RESULTS]                # default RESULTS: gpu_check_results.txt
#   bash bench/gpu_check.sh --dry-run                # print the steps and their commands, run nothing
#   bash bench/gpu_check.sh --only ctvit_bf16,embed  # a subset of the steps (names as --dry-run prints them)
#   bash bench/gpu_check.sh --budget 470             # the wall-clock budget in seconds
#                                                    # (default 470: under 8 minutes)
#   bash bench/gpu_check.sh --fetch-wheels DIR       # download the wheels a bare CUDA image lacks
#                                                    # (needs pip and a registry)
#
# What it runs, in this order (each step under its own `timeout`, never past the budget; a step that fails or times out
# is recorded as such and the next one runs):
#   env            nvidia-smi, torch / CUDA / cuDNN versions, the package's version
#   ctvit_*        bench/bench_ctvit.py: one full-size CTViT forward (1x1x240x480x480) on the GPU, bf16 autocast and
#                  float32 at batch 1, bf16 at batch 4 (ours only: CT-CLIP's module is compared on the CPU, by hand)
#   embed          bench/bench_embed.py --device cuda: encode once vs the frozen encoder every epoch
#   train_b        bench/bench_training.py --parts b --device cuda: ResNet-18 training steps, bf16 autocast
#   train_c        bench/bench_training.py --parts c --device cuda: the CT-CLIP recipe, 5 epochs, both ways
#   cache          bench/bench_cache.py --device cuda: a cache entry read and moved to the GPU, vs MONAI
#   preprocess     bench/bench_preprocess.py --device cuda: preprocessing one 512x512x300 volume on the GPU vs the CPU
#                  (and CT-CLIP's own loader too when CTCLIP_DIR names a checkout of CT-CLIP's repository)
#   train_a        bench/bench_training.py --parts a --device cuda: the data pipeline with augmentation on the GPU
#                  vs MONAI
#   explain        bench/bench_explain.py --device cuda: Grad-CAM and occlusion maps for 8 volumes of the cnn profile
#                  vs MONAI
#   notebooks      nbdev_test --flags gpu on every notebook with a `#| gpu` cell, whole notebooks (the unflagged cells
#                  too, since the gpu cells use what earlier cells define), in parallel, `#| slow` cells skipped
# Benchmarks with no GPU side are listed in the results as such: bench_data (pandas), bench_evaluation (numpy),
# bench_synthetic (numpy), bench_hpo (tiny CPU trainings, compared at equal compute), compare_ctvit (needs a CT-CLIP
# checkout; run it by hand).
# Environment: PYTHON (the interpreter; default python, else python3); CTCLIP_DIR (a checkout of CT-CLIP's
# repository, for the preprocess step); GPU_CHECK_ASSUME_GPU=1 (run the steps without a GPU: only to test this
# script's bookkeeping).
# Peak GPU memory per step: nvidia-smi's memory.used sampled every 200 ms during the step (the whole device, so the
# CUDA context is included) and, where a benchmark prints it, torch.cuda.max_memory_allocated.
set -u

RESULTS=gpu_check_results.txt; DRY=0; ONLY=''; BUDGET=470; WHEELS=''
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY=1 ;;
        --only) ONLY="$2"; shift ;;
        --budget) BUDGET="$2"; shift ;;
        --fetch-wheels) WHEELS="$2"; shift ;;
        -h|--help) sed -n '2,/^set -u/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "gpu_check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) RESULTS="$1" ;;
    esac
    shift
done
PY=${PYTHON:-python}
command -v "$PY" >/dev/null 2>&1 || PY=python3
case $RESULTS in /*) ;; *) RESULTS="$PWD/$RESULTS" ;; esac # paths given are relative to where it was called from
case $WHEELS in /*|'') ;; *) WHEELS="$PWD/$WHEELS" ;; esac
cd "$(dirname "$0")/.." || exit 1 # the repository root

# ---------------------------------------------------------------- wheels for a bare CUDA image (run where pip works)
if [ -n "$WHEELS" ]; then
    # The image's own packages (torch, numpy, pandas, scipy, scikit-learn, matplotlib, ... : see the run-book) are
    # kept; only what it lacks is downloaded, for CPython 3.12 on x86-64 Linux.
    mkdir -p "$WHEELS" || exit 1
    REQS=(nibabel isal iterative-stratification fastprogress ipywidgets optuna "fastcore>=1.12.3,<1.13" nbdev==2.4.14
          "execnb>=0.1.12,<0.2" "ghapi>=1.0.3,<2" "huggingface_hub>=0.20")
    PLAT=(--only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64
          --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
          --platform manylinux1_x86_64)
    # the packages of the GPU image lent to this project (its KINDS.md list, 2026-11-17); GPU_IMAGE_PACKAGES overrides
    HAVE=${GPU_IMAGE_PACKAGES:-"absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio \
attrs botorch build certifi charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings \
cuda-core cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock \
flatbuffers flax fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub \
humanize hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping \
jinja2 joblib kiwisolver lazy-loader lightning lightning-utilities linear-operator lineax llvmlite lxml markdown \
markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch \
mypy-extensions nanobind narwhals networkx ninja numba numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti \
nvidia-cuda-nvrtc nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver \
nvidia-cusparse nvidia-cusparselt-cu13 nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx \
onnx onnx-ir onnxruntime onnxscript opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint \
packaging pandas pathspec patsy peft pillow pip pluggy portalocker prometheus-client propcache protobuf psutil pyarrow \
pybind11 py-cpuinfo pygments pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock \
pytest-timeout pytest-xdist python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu safetensors \
scikit-build-core scikit-image scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools shellingham \
simplejson six sortedcontainers statsmodels sympy tabulate tensorboard tensorboard-data-server tensorstore \
threadpoolctl tifffile tiktoken timm tokenizers toolz torch torchaudio torchdiffeq torch-geometric torchmetrics \
torchvision tqdm transformers treescope triton typer typing-extensions typing-inspect urllib3 uvloop wadler-lindig \
werkzeug wheel wrapt xarray xxhash yarl zipp"}
    tmpd=$(mktemp -d)
    "$PY" -m pip install --dry-run --ignore-installed --quiet "${PLAT[@]}" --target "$tmpd/t" \
        --report "$tmpd/report.json" "${REQS[@]}" || exit 1
    "$PY" - "$tmpd/report.json" "$HAVE" > "$tmpd/want.txt" <<'EOF' || exit 1
import json, re, sys
have = {re.sub(r'[-_.]+', '-', n).lower() for n in sys.argv[2].split()}
for it in json.load(open(sys.argv[1]))['install']:
    m = it['metadata']; n = re.sub(r'[-_.]+', '-', m['name']).lower()
    if n not in have and not n.startswith(('nvidia-', 'torch', 'triton')): print(f"{m['name']}=={m['version']}")
EOF
    echo "monai==1.6.1" >> "$tmpd/want.txt" # MONAI (the benchmarks' reference) without its torch dependency
    echo "downloading $(wc -l < "$tmpd/want.txt") wheels into $WHEELS: $(tr '\n' ' ' < "$tmpd/want.txt")"
    "$PY" -m pip download --quiet --no-deps "${PLAT[@]}" -d "$WHEELS" -r "$tmpd/want.txt" || exit 1
    rm -rf "$tmpd"
    du -sh "$WHEELS"
    exit 0
fi

# ---------------------------------------------------------------- the steps: name|timeout s|command
CTC=${CTCLIP_DIR:+--ctclip $CTCLIP_DIR}
STEPS=(
  "env|30|nvidia-smi; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; \
$PY -c 'import torch, ct_classifier; print(\"torch\", torch.__version__, \"CUDA\", torch.version.cuda, \"cuDNN\", \
torch.backends.cudnn.version(), \"device\", torch.cuda.get_device_name(0), \"ct_classifier\", \
ct_classifier.__version__)'"
  "ctvit_bf16|90|$PY bench/bench_ctvit.py --device cuda --dtype bf16 --batch 1 --repeat 5 --rounds 1"
  "ctvit_fp32|90|$PY bench/bench_ctvit.py --device cuda --dtype float32 --batch 1 --repeat 5 --rounds 1"
  "ctvit_bf16_b4|90|$PY bench/bench_ctvit.py --device cuda --dtype bf16 --batch 4 --repeat 3 --rounds 1"
  "embed|120|$PY bench/bench_embed.py --device cuda --volumes 8 --epochs 10"
  "train_b|120|$PY bench/bench_training.py --device cuda --parts b --train-batch 4 --train-steps 10"
  "train_c|150|$PY bench/bench_training.py --device cuda --parts c"
  "cache|90|$PY bench/bench_cache.py --device cuda --repeat 5"
  "preprocess|120|$PY bench/bench_preprocess.py --device cuda --repeat 3 --skip-monai $CTC"
  "train_a|150|$PY bench/bench_training.py --device cuda --parts a --workers 0,4 --rounds 1"
  "explain|120|$PY bench/bench_explain.py --device cuda --volumes 8 --occ-volumes 1 --repeats 1"
  "notebooks|240|NOTEBOOKS"
)
NO_GPU_SIDE="bench_data.py (pandas: cleaning and sampling), bench_evaluation.py (numpy bootstrap), "
NO_GPU_SIDE+="bench_synthetic.py (numpy phantoms), bench_hpo.py (CPU trainings at equal compute), "
NO_GPU_SIDE+="compare_ctvit.py (needs a CT-CLIP checkout: python bench/compare_ctvit.py --ctclip PATH --full)"

gpu_notebooks() { # notebooks with a code cell whose directives include `#| gpu`
    "$PY" - <<'EOF'
import json, pathlib
for f in sorted(pathlib.Path('nbs').glob('*.ipynb')):
    for c in json.loads(f.read_text())['cells']:
        src = ''.join(c['source']).splitlines() if c['cell_type'] == 'code' else []
        if any(l.replace(' ', '') == '#|gpu' for l in src[:5]): print(f); break
EOF
}
nbdev_test_cmd() { # the console script on PATH, else the one beside the interpreter
    # (never `python -c`: nbdev's call_parse would ignore the arguments)
    if command -v nbdev_test >/dev/null 2>&1; then echo nbdev_test; return; fi
    "$PY" -c 'import os, sys; print(os.path.join(os.path.dirname(sys.executable), "nbdev_test"))' 2>/dev/null \
        || echo nbdev_test
}
wanted() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }

if [ "$DRY" = 1 ]; then
    echo "gpu_check.sh --dry-run: the steps it would run (name, timeout, command)," \
         "budget ${BUDGET} s; results -> $RESULTS"
    for s in "${STEPS[@]}"; do
        IFS='|' read -r name to cmd <<< "$s"; wanted "$name" || continue
        if [ "$cmd" = NOTEBOOKS ]; then
            for nb in $(gpu_notebooks); do echo "$name|$to|$(nbdev_test_cmd) --flags gpu --path $nb"; done
        else echo "$name|$to|$cmd"; fi
    done
    echo "no GPU side: $NO_GPU_SIDE"
    exit 0
fi

# ---------------------------------------------------------------- no GPU: nothing to measure
# (GPU_CHECK_ASSUME_GPU=1 runs the steps anyway: the run-book's test of this script's bookkeeping on a CPU machine)
if [ "${GPU_CHECK_ASSUME_GPU:-0}" != 1 ] \
    && ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    why=$("$PY" -c 'import torch; print(f"torch {torch.__version__}, CUDA build {torch.version.cuda}")' 2>&1 | tail -1)
    echo "gpu_check.sh: no GPU: torch.cuda.is_available() is False ($why), so there is nothing to measure."
    echo "Run it on a machine with an NVIDIA GPU and a CUDA build of torch; --dry-run prints what it would run."
    exit 0
fi

# ---------------------------------------------------------------- the run
START=$(date +%s)
LOGDIR=$(mktemp -d -t gpu_check_logs.XXXXXX)
RAW="${RESULTS%.txt}_logs.txt"
mkdir -p "$(dirname "$RESULTS")"
: > "$RESULTS"; : > "$RAW"
say() { echo "$*" >> "$RESULTS"; }
say "# gpu_check.sh results, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(hostname)," \
    "git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
say "# budget ${BUDGET} s; raw logs of every step: $RAW"
say "# no GPU side (not run here): $NO_GPU_SIDE"
say ""

peak_smi() { # max memory.used (MiB) in a sampler file
    awk -F', *' '$1 ~ /^[0-9]+$/ {v=$1+0; if(v>m)m=v; n++} END{if(n) print m " MiB"; else print "n/a"}' "$1" 2>/dev/null
}

run_step() { # name timeout command...
    local name=$1 to=$2 cmd=$3 log="$LOGDIR/$1.log" left t0 t1 rc status smi peak
    left=$(( BUDGET - ($(date +%s) - START) ))
    if [ "$left" -lt 15 ]; then
        say "## $name: SKIPPED (out of budget: ${left} s left); rerun with --only $name"; say ""
        echo "[$(( $(date +%s) - START )) s] $name: SKIPPED (out of budget)"; return
    fi
    [ "$to" -gt "$left" ] && to=$left
    smi="$LOGDIR/$name.smi"
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > "$smi" 2>/dev/null &
    local smi_pid=$!
    echo "[$(( $(date +%s) - START )) s] $name: running (timeout ${to} s)"
    t0=$(date +%s.%N)
    timeout --kill-after=10 "$to" bash -c "$cmd" > "$log" 2>&1; rc=$?
    t1=$(date +%s.%N)
    kill "$smi_pid" 2>/dev/null; wait "$smi_pid" 2>/dev/null
    peak=$(peak_smi "$smi")
    case $rc in 0) status=OK ;; 124|137) status="FAILED: timed out after ${to} s" ;;
        *) status="FAILED: exit code $rc" ;; esac
    say "## $name: $status ($(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s," \
        "timeout ${to} s; nvidia-smi peak memory.used ${peak})"
    say "\$ $cmd"
    grep -i 'peak GPU memory' "$log" | sed 's/^/  /' >> "$RESULTS"
    tail -n 25 "$log" | sed 's/^/    /' >> "$RESULTS"
    say ""
    { echo "===== $name ($status) ====="; echo "\$ $cmd"; cat "$log"; echo; } >> "$RAW"
}

for s in "${STEPS[@]}"; do
    IFS='|' read -r name to cmd <<< "$s"; wanted "$name" || continue
    if [ "$cmd" = NOTEBOOKS ]; then
        nbs=$(gpu_notebooks); nbt=$(nbdev_test_cmd)
        # each notebook in its own process, in parallel, 4 CPU threads each; the step fails if any fails
        cmd="rc=0; for nb in $(echo $nbs); do (OMP_NUM_THREADS=4 $nbt --flags gpu --path \$nb"
        cmd+=" > $LOGDIR/nb_\$(basename \$nb).log 2>&1; echo \$? > $LOGDIR/nb_\$(basename \$nb).rc) & done; wait;"
        cmd+=" for nb in $(echo $nbs); do echo \"----- \$nb\"; cat $LOGDIR/nb_\$(basename \$nb).log; done;"
        cmd+=" for nb in $(echo $nbs); do r=\$(cat $LOGDIR/nb_\$(basename \$nb).rc);"
        cmd+=" echo \"\$nb: \$([ \"\$r\" = 0 ] && echo passed || echo FAILED, exit code \$r)\";"
        cmd+=" [ \"\$r\" = 0 ] || rc=1; done; exit \$rc"
    fi
    run_step "$name" "$to" "$cmd"
    if [ "$name" = notebooks ]; then # each notebook's own verdict, also when the step timed out
        for nb in $nbs; do
            b=$(basename "$nb"); r=$(cat "$LOGDIR/nb_$b.rc" 2>/dev/null || echo none)
            case $r in 0) v=passed ;; none) v="did not finish (timed out)" ;; *) v="FAILED, exit code $r" ;; esac
            say "  notebook $nb: $v"
            { echo "===== notebook $nb ($v) ====="; cat "$LOGDIR/nb_$b.log" 2>/dev/null; echo; } >> "$RAW"
        done
        say ""
    fi
done

TOTAL=$(( $(date +%s) - START ))
say "# total wall time: ${TOTAL} s (budget ${BUDGET} s)"
say "# steps: $(grep -c '^## .*: OK' "$RESULTS") OK, $(grep -c '^## .*: FAILED' "$RESULTS") failed," \
    "$(grep -c '^## .*: SKIPPED' "$RESULTS") skipped"
echo "----- summary (the whole results: $RESULTS; raw logs: $RAW)"
grep -E '^## |^  .*peak GPU memory|^  notebook |^# total|^# steps' "$RESULTS"
rm -rf "$LOGDIR"
exit 0
