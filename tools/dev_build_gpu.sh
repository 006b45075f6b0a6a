#!/usr/bin/env bash
# Incremental build of the GPU modules into build/cuda-dev: _cuda (where nvcc is found; _cublas too
# where the nvidia-cublas wheel is installed) and _hip
# (where clang++-15 and Debian's HIP headers are), linked into python/deepseek_r1/ next to the
# _core of tools/dev_build.sh. Without a GPU they import and report no devices. Same lock and
# niceness as every build here (2 shared cores). Extra arguments go to ninja.
set -euo pipefail
cd "$(dirname "$0")/.."
exec 9>/tmp/deepseek_r1_build.lock
flock 9
cuda=OFF; hip=OFF
command -v nvcc >/dev/null 2>&1 && cuda=ON
command -v clang++-15 >/dev/null 2>&1 && [ -f /usr/include/hip/hip_runtime.h ] && hip=ON
if [ ! -f build/cuda-dev/build.ninja ]; then
  HIPCXX=clang++-15 nice -n 19 cmake -S . -B build/cuda-dev -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DPython_EXECUTABLE="$(command -v python3)" -Dpybind11_DIR="$(python3 -m pybind11 --cmakedir)" \
    -DR1_CUDA=$cuda -DR1_HIP=$hip >/dev/null
fi
targets=""
[ "$cuda" = ON ] && targets="$targets _cuda"
# _cublas exists where cmake found the nvidia-cublas wheel (pip install 'nvidia-cublas>=13,<14').
[ "$cuda" = ON ] && ninja -C build/cuda-dev -t targets all 2>/dev/null | grep '^_cublas:' >/dev/null && targets="$targets _cublas"
[ "$hip" = ON ] && targets="$targets _hip"
[ -n "$targets" ] || { echo "no GPU toolchain found (nvcc, clang++-15 + HIP headers)"; exit 0; }
nice -n 19 ninja -C build/cuda-dev -j2 $targets "$@"
for so in build/cuda-dev/cuda/_cuda*.so build/cuda-dev/cuda/cublas/_cublas*.so build/cuda-dev/hip/_hip*.so; do
  [ -f "$so" ] && ln -sf "$PWD/$so" python/deepseek_r1/
done
