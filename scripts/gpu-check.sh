#!/usr/bin/env bash
# Runs on the GPU machine over a bundle from scripts/device-bundle.sh: every
# unit test against the real GPU, then the benchmarks. Writes logs to $OUT
# (or ./gpu-out) and ends with a summary table.
#   usage: scripts/gpu-check.sh [--no-bench] [bench args...]
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
b="$root/.bundle"
out=${OUT:-$root/gpu-out}
logs=$(mktemp -d)   # one log per test here; only merged files go to $out (the device tool returns 8 files)
mkdir -p "$out"
run_bench=1
[ "${1:-}" = "--no-bench" ] && { run_bench=0; shift; }
export LD_LIBRARY_PATH="$b/lib:${LD_LIBRARY_PATH:-}"
# Tests were built with this tree's path on the build machine compiled in
# (models/, tests/conformance/): make that path lead here.
src=$(cat "$b/SOURCE_DIR" 2>/dev/null || echo "$root")
if [ "$src" != "$root" ] && [ ! -e "$src" ]; then
  mkdir -p "$(dirname "$src")" && ln -s "$root" "$src"
fi
[ -e "$root/models" ] || ln -s "$b/models" "$root/models"

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(cat "$b/COMMIT")"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv,noheader
  echo "host: $(nproc) cores, $(uname -r)"
} | tee "$out/env.txt"

missing=$(ldd "$b/bin/avflow" 2>/dev/null | grep 'not found' | sort -u)
if [ -n "$missing" ]; then
  echo "missing libraries on this machine:"; echo "$missing"; exit 1
fi

"$b/bin/avflow" info | tee "$out/info.txt"

pass=0; fail=0; failed=(); notrun=()
for t in "$b"/tests/test_*; do
  name=$(basename "$t")
  # Media I/O tests need FFmpeg's ~130 libraries, which the GPU image lacks
  # and the bundle does not carry: report them as not run, never as passed.
  if ldd "$t" 2>/dev/null | grep -q 'not found'; then
    notrun+=("$name"); echo "$name: NOT RUN (missing: $(ldd "$t" | grep 'not found' | awk '{print $1}' | tr '\n' ' '))"
    continue
  fi
  args=()
  case "$name" in # tests that take their inputs as arguments
    test_ocr_app) args=("$b/models" "$b/ocr") ;;
  esac
  if ASAN_OPTIONS=allocator_may_return_null=1 AVF_FAKE_NVML_PATH="$b/lib/libavf_fake_nvml.so" \
     "$t" "${args[@]}" >"$logs/$name.log" 2>&1; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1)); failed+=("$name")
    tail -n 30 "$logs/$name.log"
  fi
  grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$logs/$name.log" | sed "s/^/$name: /"
done
cat "$logs"/test_*.log > "$out/tests.log"

# ONNX node tests through the executor on the GPU (the ones the CPU passes).
if [ -x "$b/tests/run_node_tests" ]; then
  "$b/tests/run_node_tests" --device cuda:0 --data "$b/node" --list-failures \
    >"$out/conformance_cuda.txt" 2>&1
  rc=$?
  grep -E '^TOTAL' "$out/conformance_cuda.txt" | sed 's/^/conformance cuda:0 (tests passed failed unsupported): /'
  nfailed=$(awk '/^TOTAL/ {print $4}' "$out/conformance_cuda.txt")
  if [ $rc -ne 0 ] || [ "${nfailed:-1}" != 0 ]; then
    fail=$((fail + 1)); failed+=("conformance_cuda")
    sed -n '/^failures:/,$p' "$out/conformance_cuda.txt" | head -40
  else
    pass=$((pass + 1))
  fi
fi

# compute-sanitizer (memcheck) over the tests that touch device memory most
# (API errors are not reported: the tests provoke them on purpose):
# out-of-bounds or misaligned device accesses and leaked device allocations.
# MEMCHECK_TESTS picks the tests, MEMCHECK_TIMEOUT bounds each (a test that
# runs out of time is reported as not checked, not as clean).
if command -v compute-sanitizer >/dev/null 2>&1; then
  for name in ${MEMCHECK_TESTS:-test_device test_pool test_staging test_tensor}; do
    [ -x "$b/tests/$name" ] || continue
    timeout "${MEMCHECK_TIMEOUT:-300}" compute-sanitizer --tool memcheck --leak-check full \
      --report-api-errors no --error-exitcode 9 "$b/tests/$name" >"$logs/memcheck_$name.log" 2>&1
    mc=$?
    if [ $mc -eq 0 ]; then
      echo "memcheck $name: clean"
    elif [ $mc -eq 124 ]; then
      echo "memcheck $name: not checked (ran past ${MEMCHECK_TIMEOUT:-300} s)"
    else
      echo "memcheck $name: FAILED"; tail -n 20 "$logs/memcheck_$name.log"
      fail=$((fail + 1)); failed+=("memcheck_$name")
    fi
  done
  cat "$logs"/memcheck_*.log > "$out/memcheck.log" 2>/dev/null
fi

if [ $run_bench = 1 ] && [ -x "$b/bench/bench_pool" ]; then
  "$b/bench/bench_pool" --json "$out/bench_pool.json" "$@" 2>&1 | tee "$out/bench_pool.txt"
fi

echo
echo "gpu tests: $pass passed, $fail failed${failed:+ (${failed[*]})}${notrun:+, not run: ${notrun[*]}}"
[ $fail -eq 0 ]
