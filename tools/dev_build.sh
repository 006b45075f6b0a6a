#!/usr/bin/env bash
# Incremental developer build: compiles _core into build/dev and links it into python/deepseek_r1/
# so `PYTHONPATH=python pytest` runs against the working tree. Builds are serialised with a lock
# (2 cores: two builds at once only slow each other down).
set -euo pipefail
cd "$(dirname "$0")/.."
exec 9>/tmp/deepseek_r1_build.lock
flock 9
if [ ! -f build/dev/build.ninja ]; then
  cmake -S . -B build/dev -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DPython_EXECUTABLE="$(command -v python3)" \
    -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" -DR1_CUDA=OFF >/dev/null
fi
ninja -C build/dev "$@"
so=$(ls build/dev/_core*.so)
ln -sf "$PWD/$so" python/deepseek_r1/
