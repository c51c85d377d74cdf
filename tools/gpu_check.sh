#!/usr/bin/env bash
# Every GPU check of the project in one run, sized for 8 minutes on one GPU.
#
#   tools/gpu_check.sh OUT_DIR
#
# 1. builds the package with the CUDA coder (CODEC_WITH_CUDA=ON);
# 2. runs every test marked gpu (python -m pytest -m gpu);
# 3. runs the GPU benchmarks: the entropy coder (Gsym/s encode and decode,
#    CUDA beside our CPU coder, 64 M symbols; and the CPU coder's 2-thread
#    scaling on 1 M symbols, which needs free cores), then the media
#    benchmarks listed in the BENCHMARKS section below.
# Results go to OUT_DIR: summary.md (read this first), build.log, tests_gpu.log,
# bench_entropy.txt and bench_entropy.json; at most 8 files in all, because
# the device tool brings back 8 (so new benchmarks have 3 left: one .txt each,
# or share one).
#
# Without a GPU (or without nvcc) it says so in summary.md and still runs the
# CPU parts: the build (CPU coder, and the CUDA coder where nvcc exists), the
# gpu tests (which then skip) and the CPU half of each benchmark. Exit status:
# 0 when every step that could run passed, 1 otherwise.
#
# PYTHON (default python3) is the interpreter to install into and run. With
# no registry at hand (device machines), it builds without isolation from the
# installed scikit-build-core and pybind11, and installs wheels carried in
# ./.whl first when that folder exists (see the device README).
set -uo pipefail

out=${1:?usage: tools/gpu_check.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
summary="$out/summary.md"
failed=0
start=$SECONDS

note() { echo "$*" | tee -a "$summary"; }
# step NAME SECONDS LOG COMMAND...: runs COMMAND with a time limit, logs it, records the verdict.
step() {
    local name=$1 limit=$2 log=$3 rc
    shift 3
    local t0=$SECONDS
    timeout --kill-after=10 "$limit" "$@" >>"$log" 2>&1
    rc=$?
    if [[ $rc -eq 0 ]]; then
        note "- $name: ok ($((SECONDS - t0)) s)"
    else
        [[ $rc -eq 124 || $rc -eq 137 ]] && rc="$rc, timed out after $limit s"
        note "- $name: FAILED (exit $rc, $((SECONDS - t0)) s; see $(basename "$log"))"
        failed=1
    fi
}

: >"$summary"
commit="no git checkout"
if git rev-parse --git-dir >/dev/null 2>&1; then
    commit="commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD 2>/dev/null || echo ' with local changes')"
fi
note "# GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), $commit"
note ""
gpu=none
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -n 1)
fi
nvcc_version=$(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p')
note "- GPU: $([[ $gpu == none ]] && echo 'no GPU' || echo "$gpu")"
note "- nvcc: ${nvcc_version:-not found}; python: $($py -c 'import sys; print(sys.version.split()[0])'); CPU cores: $(nproc)"
note ""
note "## Steps"

# --- 1. build -------------------------------------------------------------------
build_log="$out/build.log"
: >"$build_log"
if [[ -d .whl ]] && compgen -G ".whl/*.whl" >/dev/null; then
    step "install carried wheels (.whl)" 120 "$build_log" \
        "$py" -m pip install -q --no-index --no-deps --no-compile --upgrade .whl/*.whl
fi
pip_flags=(-e . --no-deps)
if "$py" -c "import scikit_build_core, pybind11" >/dev/null 2>&1; then
    pip_flags+=(--no-build-isolation)
fi
if [[ -n $nvcc_version ]]; then
    if [[ $gpu != none ]] && [[ -z ${CUDAARCHS:-} ]]; then
        export CUDAARCHS=native  # this GPU only: the quickest build (CMake >= 3.24)
        "$py" - <<'EOF' 2>/dev/null || unset CUDAARCHS
import re, shutil, subprocess, sys
v = re.search(r"(\d+)\.(\d+)", subprocess.run([shutil.which("cmake") or "cmake", "--version"], capture_output=True, text=True).stdout)
sys.exit(0 if v and (int(v[1]), int(v[2])) >= (3, 24) else 1)
EOF
    fi
    step "build with the CUDA coder (CODEC_WITH_CUDA=ON${CUDAARCHS:+, CUDAARCHS=$CUDAARCHS})" 300 \
        "$build_log" env CODEC_WITH_CUDA=ON "$py" -m pip install -v "${pip_flags[@]}"
else
    note "- no nvcc: the CUDA coder cannot be built here; building the CPU coder"
    step "build (CODEC_WITH_CUDA=AUTO)" 300 "$build_log" "$py" -m pip install -v "${pip_flags[@]}"
fi
"$py" - <<'EOF' 2>>"$build_log" | tee -a "$summary"
from codec.entropy import cuda
info = cuda.info()
print(f"- CUDA coder: compiled={info['compiled']}, devices={info['devices'] or 'none'}"
      + (f" ({info['reason']})" if info["reason"] else "") + f"; build: {info['build']}")
EOF

# --- 2. tests marked gpu --------------------------------------------------------------
# Test files whose imports fail here (packages the device image lacks; carry
# them as wheels in ./.whl) do not stop the others: they are listed as
# collection errors, which also make this step count as failed.
step "tests marked gpu (pytest -m gpu)" 180 "$out/tests_gpu.log" \
    "$py" -m pytest -m gpu -q -rfEs --continue-on-collection-errors -p no:cacheprovider
grep -E "^(ERROR|FAILED) |^=+ .*(passed|failed|skipped|error).* =+$|^[0-9]+ (passed|failed|skipped|deselected)" \
    "$out/tests_gpu.log" | tail -n 12 | sed 's/^/    /' | tee -a "$summary"

# --- 3. benchmarks ---------------------------------------------------------------------
note ""
note "## Benchmarks"
step "entropy coder, CUDA beside the CPU (64 M symbols)" 180 "$out/bench_entropy.txt" \
    env PYTHONUNBUFFERED=1 "$py" benchmarks/bench_entropy.py --device cuda --repeat 5 \
    --json "$out/bench_entropy.json"
# The CPU coder's thread scaling on 1 M symbols, where cores are free (appended to the same file).
step "entropy coder on the CPU (1 M symbols, 1 and 2 threads)" 60 "$out/bench_entropy.txt" \
    env PYTHONUNBUFFERED=1 "$py" benchmarks/bench_entropy.py --repeat 9
# The entropy coder's tables and verdicts, into the summary.
grep -E '^\||^no GPU|^target|^CUDA coder|^[0-9]+ symbols' "$out/bench_entropy.txt" >>"$summary"

# BENCHMARKS: add the image and video speed benchmarks here, one `step` each,
# writing one file into "$out" (3 of the 8 files are left) and a few summary
# lines, for example:
#   step "image codec on the GPU" 120 "$out/bench_image.txt" \
#       "$py" benchmarks/bench_image.py --device cuda
# Keep the whole script within 8 minutes: the steps above take about 3 to 4.

note ""
note "Total: $((SECONDS - start)) s; $([[ $failed -eq 0 ]] && echo 'every step passed' || echo 'some steps FAILED')."
exit $failed
