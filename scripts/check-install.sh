#!/usr/bin/env bash
# Install a build into a scratch prefix and build a small outside program
# against it with pkg-config, then run it.
set -euo pipefail
build=${1:?usage: check-install.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(ls -d "$prefix"/lib* | head -n1)
export PKG_CONFIG_PATH="$libdir/pkgconfig"
test -f "$prefix/include/avflow.h"
test -f "$prefix/include/avflow/pool.h"
test -x "$prefix/bin/avflow"
cc -std=c11 $(pkg-config --cflags avflow) "$root/tests/install/consumer.c" \
   $(pkg-config --libs avflow) -Wl,-rpath,"$libdir" -o "$prefix/consumer"
"$prefix/consumer"
echo "install check: ok ($(pkg-config --modversion avflow))"
