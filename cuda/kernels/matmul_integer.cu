// MatMulInteger: Y[int32] = (A - a_zero_point) @ (B - b_zero_point), A and B int8 or uint8,
// numpy matmul shapes (1-D operands promoted, batch dims broadcast).
//
// Zero points follow the CPU kernel (cpp/r1/cpu/kernels/matmul_integer.cc): absent or empty -> 0; one
// element -> a scalar; otherwise a tensor broadcast (numpy, right-aligned) to the operand's shape,
// a 1-D a_zero_point being per row of A ([M] -> [M, 1]) and a 1-D b_zero_point per column of B.
// An operand with a zero point is first rewritten as int16 (x - zp) in device scratch by a
// broadcasting kernel; the GEMM then reads int8 / uint8 / int16 directly.
//
// GEMM: 64x64 output tile per 256-thread block, K in steps of 16 through shared memory, each thread
// accumulating a 4x4 block of int32 sums (wrapping, as the CPU's int32 arithmetic does).
#include <cstdint>
#include <vector>

#include "elementwise.cuh"
#include "families.h"

namespace r1::gpu {
namespace {

constexpr int kMaxDims = 12;  // batch dims of the output / dims of an operand with a zero point
constexpr int kBM = 64, kBN = 64, kBK = 16, kGemmThreads = 256;

// out[i] = x[i] - zp[offset of i], x contiguous of shape dims, zp strides along each dim.
struct ZpParams {
  int rank = 0;
  int64_t numel = 0;
  int64_t dims[kMaxDims] = {};
  int64_t zst[kMaxDims] = {};
};

template <class S>
__global__ void subtract_zero_point(ZpParams p, const S* x, const S* zp, int16_t* out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < p.numel; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = i, zo = 0;
    for (int d = p.rank - 1; d >= 0; --d) {
      zo += (rem % p.dims[d]) * p.zst[d];
      rem /= p.dims[d];
    }
    out[i] = static_cast<int16_t>(static_cast<int32_t>(x[i]) - static_cast<int32_t>(zp[zo]));
  }
}

struct GemmParams {
  int64_t M = 0, N = 0, K = 0;
  int64_t batch = 1;
  int nb = 0;  // batch rank
  int64_t bdims[kMaxDims] = {};
  int64_t sa[kMaxDims] = {};  // element stride of A's matrices per output batch dim (0: broadcast)
  int64_t sb[kMaxDims] = {};
};

template <class TA, class TB>
__global__ void __launch_bounds__(kGemmThreads) int_gemm(GemmParams p, const TA* A, const TB* B, int32_t* Y) {
  __shared__ int32_t As[kBK][kBM];
  __shared__ int32_t Bs[kBK][kBN];
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int64_t tiles_m = (p.M + kBM - 1) / kBM, tiles_n = (p.N + kBN - 1) / kBN;
  for (int64_t z = blockIdx.z; z < p.batch; z += gridDim.z) {
    int64_t rem = z, a_off = 0, b_off = 0;
    for (int d = p.nb - 1; d >= 0; --d) {
      const int64_t i = rem % p.bdims[d];
      rem /= p.bdims[d];
      a_off += i * p.sa[d];
      b_off += i * p.sb[d];
    }
    const TA* a = A + a_off;
    const TB* b = B + b_off;
    int32_t* y = Y + z * p.M * p.N;
    for (int64_t tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
      for (int64_t tn = blockIdx.x; tn < tiles_n; tn += gridDim.x) {
        const int64_t m0 = tm * kBM, n0 = tn * kBN;
        uint32_t acc[4][4];
        for (int i = 0; i < 4; ++i)
          for (int j = 0; j < 4; ++j) acc[i][j] = 0u;
        for (int64_t k0 = 0; k0 < p.K; k0 += kBK) {
          for (int r = 0; r < (kBM * kBK) / kGemmThreads; ++r) {
            const int e = tid + r * kGemmThreads;
            const int row = e / kBK, kk = e % kBK;
            const int64_t m = m0 + row, k = k0 + kk;
            As[kk][row] = (m < p.M && k < p.K) ? static_cast<int32_t>(a[m * p.K + k]) : 0;
          }
          for (int r = 0; r < (kBK * kBN) / kGemmThreads; ++r) {
            const int e = tid + r * kGemmThreads;
            const int kk = e / kBN, col = e % kBN;
            const int64_t k = k0 + kk, n = n0 + col;
            Bs[kk][col] = (k < p.K && n < p.N) ? static_cast<int32_t>(b[k * p.N + n]) : 0;
          }
          __syncthreads();
          for (int kk = 0; kk < kBK; ++kk) {
            int32_t av[4], bv[4];
            for (int i = 0; i < 4; ++i) av[i] = As[kk][ty + 16 * i];
            for (int j = 0; j < 4; ++j) bv[j] = Bs[kk][tx + 16 * j];
            // |a|, |b| <= 383, so each product fits int32; the sum wraps like int32 arithmetic.
            for (int i = 0; i < 4; ++i)
              for (int j = 0; j < 4; ++j) acc[i][j] += static_cast<uint32_t>(av[i] * bv[j]);
          }
          __syncthreads();
        }
        for (int i = 0; i < 4; ++i) {
          const int64_t m = m0 + ty + 16 * i;
          if (m >= p.M) continue;
          for (int j = 0; j < 4; ++j) {
            const int64_t n = n0 + tx + 16 * j;
            if (n < p.N) y[m * p.N + n] = static_cast<int32_t>(acc[i][j]);
          }
        }
      }
    }
  }
}

bool is_int8_type(DType t) { return t == DType::Int8 || t == DType::UInt8; }

// The operand minus its zero point as int16 in device scratch; nullptr when there is none.
std::shared_ptr<Buffer> apply_zero_point(KernelContext& ctx, gpuStream_t st, const Tensor& x, const Tensor* zp,
                                         bool per_row, const char* name) {
  if (!zp || zp->numel() == 0) return nullptr;
  R1_CHECK(zp->dtype() == x.dtype(), InputError)
      << "MatMulInteger: " << name << " is " << dtype_name(zp->dtype()) << ", its input is " << dtype_name(x.dtype());
  Shape xs = x.shape();
  if (xs.size() == 1) xs.insert(xs.begin(), 1);
  Shape zs = zp->shape();
  if (per_row && zs.size() == 1) zs.push_back(1);
  const int r = static_cast<int>(xs.size());
  R1_CHECK(r <= kMaxDims, InputError) << "MatMulInteger on " R1_GPU_BACKEND_NAME " supports inputs of rank <= "
                                      << kMaxDims << " with a zero point, got " << r;
  bool fits = zp->numel() == 1 || zs.size() <= xs.size();
  ZpParams p;
  p.rank = r;
  p.numel = x.numel();
  if (zp->numel() != 1) {  // one element: every stride stays 0
    for (int d = 0; fits && d < r; ++d) {
      const int zd = d - (r - static_cast<int>(zs.size()));  // right-aligned dim of zp, < 0 if absent
      if (zd < 0) continue;
      int64_t zstride = 1;
      for (size_t e = static_cast<size_t>(zd) + 1; e < zs.size(); ++e) zstride *= zs[e];
      if (zs[zd] == xs[d])
        p.zst[d] = xs[d] == 1 ? 0 : zstride;
      else if (zs[zd] != 1)
        fits = false;
    }
  }
  R1_CHECK(fits, InputError) << "MatMulInteger: zero point of shape " << shape_str(zp->shape())
                             << " does not fit input " << shape_str(x.shape());
  for (int d = 0; d < r; ++d) p.dims[d] = xs[d];
  auto buf = ctx.allocator().allocate(static_cast<size_t>(std::max<int64_t>(p.numel, 1)) * sizeof(int16_t));
  if (p.numel == 0) return buf;
  int16_t* out = static_cast<int16_t*>(buf->data());
  if (x.dtype() == DType::Int8)
    subtract_zero_point<int8_t><<<blocks_for(p.numel), kThreads, 0, st>>>(p, static_cast<const int8_t*>(x.raw()),
                                                                          static_cast<const int8_t*>(zp->raw()), out);
  else
    subtract_zero_point<uint8_t><<<blocks_for(p.numel), kThreads, 0, st>>>(p, static_cast<const uint8_t*>(x.raw()),
                                                                           static_cast<const uint8_t*>(zp->raw()), out);
  R1_GPU_CHECK_LAUNCH();
  return buf;
}

// Calls f(T{}) with T the element type of an operand: int16 after a zero point, else its dtype.
template <class F>
void dispatch_operand(DType t, bool shifted, F&& f) {
  if (shifted)
    f(int16_t{});
  else if (t == DType::Int8)
    f(int8_t{});
  else
    f(uint8_t{});
}

void matmul_integer(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  R1_CHECK(is_int8_type(a.dtype()) && is_int8_type(b.dtype()), InputError)
      << "MatMulInteger on " R1_GPU_BACKEND_NAME " needs int8 or uint8 inputs, got " << dtype_name(a.dtype()) << " and "
      << dtype_name(b.dtype());
  R1_CHECK(a.rank() >= 1 && b.rank() >= 1, InputError)
      << "MatMulInteger: operands must be at least 1-D (got rank " << a.rank() << " and " << b.rank() << ")";
  Shape as = a.shape(), bs = b.shape();
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  const int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
  R1_CHECK(bs[bs.size() - 2] == K, InputError)
      << "MatMulInteger: inner dimension mismatch (" << K << " vs " << bs[bs.size() - 2] << ")";
  // Output batch dims: numpy broadcast of both operands' batch dims.
  const int ra = static_cast<int>(as.size()) - 2, rb = static_cast<int>(bs.size()) - 2;
  const int nb = std::max(ra, rb);
  R1_CHECK(nb <= kMaxDims, InputError) << "MatMulInteger on " R1_GPU_BACKEND_NAME " supports at most " << kMaxDims
                                       << " batch dims, got " << nb;
  GemmParams p;
  p.M = M;
  p.N = N;
  p.K = K;
  p.nb = nb;
  p.batch = 1;
  int64_t a_mat_stride = M * K, b_mat_stride = K * N;  // running strides of the batch dims, right to left
  for (int d = nb - 1; d >= 0; --d) {
    const int da = d - (nb - ra), db = d - (nb - rb);
    const int64_t ea = da >= 0 ? as[da] : 1, eb = db >= 0 ? bs[db] : 1;
    R1_CHECK(ea == eb || ea == 1 || eb == 1, InputError) << "MatMulInteger: batch dims of " << shape_str(a.shape())
                                                         << " and " << shape_str(b.shape()) << " do not broadcast";
    const int64_t e = ea == 1 ? eb : ea;
    p.bdims[d] = e;
    p.sa[d] = (ea == 1) ? 0 : a_mat_stride;
    p.sb[d] = (eb == 1) ? 0 : b_mat_stride;
    a_mat_stride *= ea;
    b_mat_stride *= eb;
    p.batch *= e;
  }
  Tensor& y = ctx.output(0);
  R1_CHECK(y.dtype() == DType::Int32, InputError) << "MatMulInteger: output must be int32";
  R1_CHECK(y.numel() == p.batch * M * N, InputError)
      << "MatMulInteger: output of shape " << shape_str(y.shape()) << " does not match the product of "
      << shape_str(a.shape()) << " and " << shape_str(b.shape());
  if (y.numel() == 0) return;
  KernelLaunch env(ctx);
  const gpuStream_t st = env.stream();
  if (K == 0) {
    R1_GPU_CHECK(gpuMemsetAsync(y.raw(), 0, y.nbytes(), st));
    return;
  }
  auto a16 = apply_zero_point(ctx, st, a, ctx.has_input(2) ? &ctx.input(2) : nullptr, true, "a_zero_point");
  auto b16 = apply_zero_point(ctx, st, b, ctx.has_input(3) ? &ctx.input(3) : nullptr, false, "b_zero_point");
  const void* ap = a16 ? a16->data() : a.raw();
  const void* bp = b16 ? b16->data() : b.raw();
  const int64_t tiles_m = (M + kBM - 1) / kBM, tiles_n = (N + kBN - 1) / kBN;
  dim3 grid(static_cast<unsigned>(std::min<int64_t>(tiles_n, 65535)),
            static_cast<unsigned>(std::min<int64_t>(tiles_m, 65535)),
            static_cast<unsigned>(std::min<int64_t>(p.batch, 65535)));
  dispatch_operand(a.dtype(), a16 != nullptr, [&](auto ta) {
    using TA = decltype(ta);
    dispatch_operand(b.dtype(), b16 != nullptr, [&](auto tb) {
      using TB = decltype(tb);
      int_gemm<TA, TB><<<grid, kGemmThreads, 0, st>>>(p, static_cast<const TA*>(ap), static_cast<const TB*>(bp),
                                                      static_cast<int32_t*>(y.raw()));
      R1_GPU_CHECK_LAUNCH();
    });
  });
}

// A, B int8 / uint8; each zero point of its operand's dtype; int32 output.
bool supports_matmul_integer(const Node& n) {
  const Value* a = n.input(0);
  const Value* b = n.input(1);
  if (!a || !b || !is_int8_type(a->dtype) || !is_int8_type(b->dtype)) return false;
  if (n.input(2) && n.input(2)->dtype != a->dtype) return false;
  if (n.input(3) && n.input(3)->dtype != b->dtype) return false;
  for (const Value* o : n.outputs)
    if (o && o->dtype != DType::Int32) return false;
  return true;
}

}  // namespace

void register_matmul_integer_kernels(KernelTable& t) {
  t.add("MatMulInteger", matmul_integer, "", 0, supports_matmul_integer);
}
}  // namespace r1::gpu
