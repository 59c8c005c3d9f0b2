#!/usr/bin/env bash
# Triton's perf_analyzer for the serve test tests/serve/test_perf_analyzer.py,
# from PyPI, runnable on Debian 12 (glibc 2.36).
#
# Why this wheel: PyPI `perf-analyzer` (2.60) is tagged manylinux_2_38 and its
# binary needs GLIBC_2.38, so pip on Debian 12 installs a binary-less
# placeholder. tritonclient 2.41.0 (Triton 23.12) still shipped perf_analyzer
# in its wheel, built on Ubuntu 22.04: it needs GLIBC_2.34 at most, plus
# libb64 (Debian libb64-0d, scripts/setup.sh) and libcudart.so.12, which
# nvidia-cuda-runtime-cu12 ships (loaded at start, no GPU used for HTTP). The
# wheel cannot go into .venv itself: the protocol tests pin tritonclient 2.73.
# So the binary and the library are unpacked into .venv/perf_analyzer/ and
# .venv/bin/perf_analyzer is a wrapper that points the loader there.
# Idempotent: nothing is fetched when the wrapper already runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
dest="$venv/perf_analyzer"
wrapper="$venv/bin/perf_analyzer"
[ -x "$venv/bin/pip" ] || { echo "fetch-perf-analyzer: no $venv (run make data first)" >&2; exit 1; }
if [ -x "$wrapper" ] && "$wrapper" --version >/dev/null 2>&1; then
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/req.txt" <<'REQ'
tritonclient==2.41.0 --hash=sha256:cf4ed5df836fa99937678a9fd852f86ba05c7b83656dd0a540e20afdb9ab4629
nvidia-cuda-runtime-cu12==12.3.101 --hash=sha256:04604679ddca6acb96c76a7a9306282cddc16981f92e148e2dfe227078883cda
REQ
echo "fetch-perf-analyzer: downloading tritonclient 2.41.0 and nvidia-cuda-runtime-cu12 12.3.101 from PyPI"
"$venv/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  --require-hashes -r "$tmp/req.txt" -d "$tmp/whl"
rm -rf "$dest"
mkdir -p "$dest/bin" "$dest/lib"
"$venv/bin/python" - "$tmp/whl" "$dest" <<'PY'
import glob, os, shutil, sys, zipfile
whl, dest = sys.argv[1], sys.argv[2]
want = {"tritonclient-2.41.0.data/data/bin/perf_analyzer": "bin/perf_analyzer",
        "nvidia/cuda_runtime/lib/libcudart.so.12": "lib/libcudart.so.12"}
for w in glob.glob(os.path.join(whl, "*.whl")):
    with zipfile.ZipFile(w) as z:
        for name, to in want.items():
            if name in z.namelist():
                with z.open(name) as src, open(os.path.join(dest, to), "wb") as dst:
                    shutil.copyfileobj(src, dst)
                os.chmod(os.path.join(dest, to), 0o755)
missing = [to for to in want.values() if not os.path.exists(os.path.join(dest, to))]
if missing:
    sys.exit(f"fetch-perf-analyzer: the wheels lacked {missing}")
PY
cat > "$wrapper" <<'WRAP'
#!/bin/sh
# perf_analyzer of tritonclient 2.41.0 (scripts/fetch-perf-analyzer.sh):
# the binary and libcudart.so.12 lie in ../perf_analyzer beside this file.
here=$(dirname "$(readlink -f "$0")")
pa="$here/../perf_analyzer"
LD_LIBRARY_PATH="$pa/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$pa/bin/perf_analyzer" "$@"
WRAP
chmod +x "$wrapper"
if ! "$wrapper" --version > "$tmp/version.txt" 2>&1; then
  echo "fetch-perf-analyzer: perf_analyzer does not run here:" >&2
  cat "$tmp/version.txt" >&2
  exit 1
fi
echo "fetch-perf-analyzer: $wrapper ready"
