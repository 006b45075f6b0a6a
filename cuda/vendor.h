// The one place that maps vendor names: every GPU source uses gpu* names and R1_GPU_* macros,
// so the same files compile with nvcc for CUDA and with clang as HIP (R1_HIP defined by
// hip/CMakeLists.txt).
//
//   gpuStream_t s;  R1_GPU_CHECK(gpuStreamCreateWithFlags(&s, gpuStreamNonBlocking));
//   float v = r1::gpu::warp_sum(x);   // reductions use WARP_SIZE (32 on NVIDIA, 64 on gfx90a)
#pragma once

#if defined(R1_HIP)
#include <hip/hip_runtime.h>
#else
#include <cuda_runtime.h>
#endif

#if defined(R1_HIP)
#define R1_GPU_BACKEND_NAME "hip"
#define R1_GPU_VENDOR_PREFIX "hip"
// gfx90a (MI250X) runs 64-wide wavefronts. Host code needs the value too (block sizes), so it is
// a constant here rather than the device-only `warpSize`.
#define R1_GPU_WARP_SIZE 64
#define gpu_(name) hip##name
#else
#define R1_GPU_BACKEND_NAME "cuda"
#define R1_GPU_VENDOR_PREFIX "cuda"
#define R1_GPU_WARP_SIZE 32
#define gpu_(name) cuda##name
#endif

// Types and enum values.
#define gpuError_t gpu_(Error_t)
#define gpuSuccess gpu_(Success)
#define gpuErrorNotReady gpu_(ErrorNotReady)
#define gpuStream_t gpu_(Stream_t)
#define gpuEvent_t gpu_(Event_t)
#define gpuMemPool_t gpu_(MemPool_t)
#define gpuMemPoolProps gpu_(MemPoolProps)
#define gpuStreamNonBlocking gpu_(StreamNonBlocking)
#define gpuEventDisableTiming gpu_(EventDisableTiming)
#define gpuMemcpyDefault gpu_(MemcpyDefault)
#define gpuMemAllocationTypePinned gpu_(MemAllocationTypePinned)
#define gpuMemLocationTypeDevice gpu_(MemLocationTypeDevice)
#define gpuMemPoolAttrReleaseThreshold gpu_(MemPoolAttrReleaseThreshold)
#define gpuMemPoolAttrUsedMemCurrent gpu_(MemPoolAttrUsedMemCurrent)
#define gpuMemPoolAttrReservedMemCurrent gpu_(MemPoolAttrReservedMemCurrent)
#if defined(R1_HIP)
#define gpuDeviceProp hipDeviceProp_t
#define gpuDevAttrMemoryPoolsSupported hipDeviceAttributeMemoryPoolsSupported
#else
#define gpuDeviceProp cudaDeviceProp
#define gpuDevAttrMemoryPoolsSupported cudaDevAttrMemoryPoolsSupported
#endif

// Functions.
#define gpuGetErrorString gpu_(GetErrorString)
#define gpuGetErrorName gpu_(GetErrorName)
#define gpuGetLastError gpu_(GetLastError)
#define gpuGetDeviceCount gpu_(GetDeviceCount)
#define gpuGetDevice gpu_(GetDevice)
#define gpuSetDevice gpu_(SetDevice)
#define gpuGetDeviceProperties gpu_(GetDeviceProperties)
#define gpuDeviceGetAttribute gpu_(DeviceGetAttribute)
#define gpuStreamCreateWithFlags gpu_(StreamCreateWithFlags)
#define gpuStreamDestroy gpu_(StreamDestroy)
#define gpuStreamSynchronize gpu_(StreamSynchronize)
#define gpuStreamWaitEvent gpu_(StreamWaitEvent)
#define gpuEventCreateWithFlags gpu_(EventCreateWithFlags)
#define gpuEventDestroy gpu_(EventDestroy)
#define gpuEventRecord gpu_(EventRecord)
#define gpuEventSynchronize gpu_(EventSynchronize)
#define gpuEventQuery gpu_(EventQuery)
#define gpuMemPoolCreate gpu_(MemPoolCreate)
#define gpuMemPoolDestroy gpu_(MemPoolDestroy)
#define gpuMemPoolSetAttribute gpu_(MemPoolSetAttribute)
#define gpuMemPoolGetAttribute gpu_(MemPoolGetAttribute)
#define gpuMemPoolTrimTo gpu_(MemPoolTrimTo)
#define gpuMallocFromPoolAsync gpu_(MallocFromPoolAsync)
#define gpuFreeAsync gpu_(FreeAsync)
#define gpuMemcpyAsync gpu_(MemcpyAsync)
#define gpuMemsetAsync gpu_(MemsetAsync)
#define gpuMalloc gpu_(Malloc)
#define gpuFree gpu_(Free)
// Graph capture (cuda/graph_capture.cc).
#define gpuGraph_t gpu_(Graph_t)
#define gpuGraphExec_t gpu_(GraphExec_t)
#define gpuStreamBeginCapture gpu_(StreamBeginCapture)
#define gpuStreamEndCapture gpu_(StreamEndCapture)
#define gpuStreamCaptureModeRelaxed gpu_(StreamCaptureModeRelaxed)
#define gpuGraphLaunch gpu_(GraphLaunch)
#define gpuGraphDestroy gpu_(GraphDestroy)
#define gpuGraphExecDestroy gpu_(GraphExecDestroy)
#if defined(R1_HIP)
#define gpuGraphInstantiate(exec, graph) hipGraphInstantiate(exec, graph, nullptr, nullptr, 0)
#else
#define gpuGraphInstantiate(exec, graph) cudaGraphInstantiate(exec, graph, 0)
#endif
#if defined(R1_HIP)
#define gpuMallocHost(ptr, bytes) hipHostMalloc(ptr, bytes, 0)
#define gpuFreeHost hipHostFree
#else
#define gpuMallocHost(ptr, bytes) cudaMallocHost(ptr, bytes)
#define gpuFreeHost cudaFreeHost
#endif

// Device-side primitives that differ between vendors.
#if defined(__CUDACC__) || defined(__HIPCC__) || defined(__HIP__)
#if defined(R1_HIP)
// HIP 5.2 has no *_sync shuffles; a wavefront executes in lockstep.
#define R1_SHFL_XOR(v, mask) __shfl_xor((v), (mask), R1_GPU_WARP_SIZE)
#else
#define R1_SHFL_XOR(v, mask) __shfl_xor_sync(0xffffffffu, (v), (mask), R1_GPU_WARP_SIZE)
#endif
#endif

namespace r1::gpu {
constexpr int WARP_SIZE = R1_GPU_WARP_SIZE;
}  // namespace r1::gpu
