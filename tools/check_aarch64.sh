#!/usr/bin/env bash
# Builds the kernels for aarch64 and checks that they compute what they compute on x86-64.
#
# 1. Compiles every extension source that a non-x86 build compiles (CMakeLists.txt leaves the
#    AVX2 / AVX-512 files out), plus nanobind's own sources, with Debian's aarch64 cross
#    compiler and the same warning flags, and links the extension module (_kernels.so).
# 2. Builds tools/portable_check.cpp (every kernel family at the portable level) for both
#    targets, runs the aarch64 binary under qemu-user, and compares the printed checksums.
# Needs: g++-aarch64-linux-gnu, qemu-user (Debian packages), and nanobind's sources (pip).
# Run from the repository root: bash tools/check_aarch64.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
PY=${PYTHON:-.venv/bin/python}
"$PY" -m pip install --quiet --target "$work/nb" "nanobind>=2.4"
NB="$work/nb/nanobind"
PYINC=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
CXX="aarch64-linux-gnu-g++ -std=c++17 -O2 -fPIC -fvisibility=hidden -I$NB/include -I$NB/ext/robin_map/include -I$PYINC"
for f in src/*.cpp; do
  case "$f" in *kernels_avx*) continue ;; esac
  $CXX -Wall -Wextra -Werror -fopenmp -ffp-contract=off -DGREENAUTO_OPENMP=1 -Isrc \
    -c "$f" -o "$work/$(basename "$f" .cpp).o"
done
$CXX -c "$NB/src/nb_combined.cpp" -o "$work/nb_combined.o"
aarch64-linux-gnu-g++ -shared -fopenmp "$work"/*.o -o "$work/_kernels.so"
file "$work/_kernels.so"
SRC="src/kernels.cpp src/cpu.cpp src/kernels_scalar.cpp"
g++ -std=c++17 -O2 -ffp-contract=off -Isrc tools/portable_check.cpp $SRC -o "$work/check_x86"
aarch64-linux-gnu-g++ -std=c++17 -O2 -ffp-contract=off -static -Isrc tools/portable_check.cpp $SRC \
  -o "$work/check_arm"
"$work/check_x86" > "$work/x86.txt"
qemu-aarch64 "$work/check_arm" > "$work/arm.txt"
cat "$work/x86.txt"
diff "$work/x86.txt" "$work/arm.txt"
echo "aarch64: the extension builds and links; every checksum equals x86-64's"
