// Reductions on the GPU: ReduceSum / Mean / Max / Min / Prod / L1 / L2 / SumSquare / LogSum /
// LogSumExp over any set of axes, ArgMax / ArgMin along one axis (float32 / float16 / bfloat16;
// accumulation in float32).
//
// The input's dims are simplified first: size-1 dims dropped, neighbours of the same kind (kept
// or reduced) merged. Then:
//   - the reduced dims are one trailing contiguous block (the common last-axis case, and full
//     reductions): one block per output row, a block-wide reduction (row_reduce.cuh);
//   - anything else: one thread per output element, walking the reduced elements by index math
//     over the (merged) reduced dims. Consecutive threads take consecutive trailing kept
//     positions, so a (outer, reduced, inner) layout reads coalesced.
// LogSumExp subtracts the maximum first (a non-finite maximum subtracts 0), as the CPU kernel.
// An empty reduction (a reduced dim of size 0) gives the reduction of nothing: 0 for sums,
// NaN for the mean, -inf / +inf for max / min, 1 for the product, -inf for the log-sums.
#include <climits>
#include <utility>
#include <vector>

#include "elementwise.cuh"
#include "families.h"
#include "row_reduce.cuh"

namespace r1::gpu {
namespace {

enum RedOp { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

template <int Op>
struct Pol {
  static constexpr bool kShift = Op == kLogSumExp;
  __host__ __device__ static float init() {
    if constexpr (Op == kProd)
      return 1.0f;
    else if constexpr (Op == kMax)
      return -INFINITY;
    else if constexpr (Op == kMin)
      return INFINITY;
    else
      return 0.0f;
  }
  __device__ static float map(float x, float sh) {
    if constexpr (Op == kL1)
      return fabsf(x);
    else if constexpr (Op == kL2 || Op == kSumSquare)
      return x * x;
    else if constexpr (Op == kLogSumExp)
      return expf(x - sh);
    else
      return x;
  }
  __host__ __device__ static float comb(float a, float b) {
    if constexpr (Op == kProd)
      return a * b;
    else if constexpr (Op == kMax)
      return a > b ? a : b;
    else if constexpr (Op == kMin)
      return a < b ? a : b;
    else
      return a + b;
  }
  __host__ __device__ static float post(float a, int64_t n, float sh) {
    if constexpr (Op == kMean)
      return a / static_cast<float>(n);
    else if constexpr (Op == kL2)
      return sqrtf(a);
    else if constexpr (Op == kLogSum)
      return logf(a);
    else if constexpr (Op == kLogSumExp)
      return logf(a) + sh;
    else
      return a;
  }
};

template <int Op>
struct Comb {
  __device__ float operator()(float a, float b) const { return Pol<Op>::comb(a, b); }
};
struct MaxF {
  __device__ float operator()(float a, float b) const { return a > b ? a : b; }
};

__device__ inline float finite_or_zero(float m) { return isfinite(m) ? m : 0.0f; }

// One block per row of n contiguous elements.
template <class T, int Op>
__global__ void reduce_rows(const typename T::storage* x, typename T::storage* y, int64_t rows, int64_t n) {
  using P = Pol<Op>;
  __shared__ float scratch[kMaxWarps];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const typename T::storage* xr = x + row * n;
    float sh = 0.0f;
    if (P::kShift) {
      float m = -INFINITY;
      for (int64_t j = threadIdx.x; j < n; j += blockDim.x) m = MaxF{}(m, T::load(xr[j]));
      sh = finite_or_zero(block_reduce(m, MaxF{}, scratch));
    }
    float a = P::init();
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) a = P::comb(a, P::map(T::load(xr[j]), sh));
    a = block_reduce(a, Comb<Op>{}, scratch);
    if (threadIdx.x == 0) y[row] = T::store(P::post(a, n, sh));
  }
}

constexpr int kMaxGroups = 8;  // merged groups alternate kept / reduced: rank 16 at most
struct Plan {
  int kr = 0, rr = 0;           // number of kept / reduced groups
  int64_t kd[kMaxGroups] = {};  // kept group sizes (row-major order of the output)
  int64_t ks[kMaxGroups] = {};  // their input strides
  int64_t rd[kMaxGroups] = {};  // reduced group sizes
  int64_t rs[kMaxGroups] = {};  // their input strides
  int64_t count = 1;            // reduced elements per output
};

__device__ inline int64_t plan_offset(int64_t i, int rank, const int64_t* dims, const int64_t* st) {
  int64_t off = 0;
  for (int d = rank - 1; d >= 0; --d) {
    const int64_t q = i / dims[d];
    off += (i - q * dims[d]) * st[d];
    i = q;
  }
  return off;
}

// One thread per output element.
template <class T, int Op>
__global__ void reduce_general(const typename T::storage* x, typename T::storage* y, int64_t outs, Plan p) {
  using P = Pol<Op>;
  for (int64_t o = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; o < outs; o += int64_t{gridDim.x} * blockDim.x) {
    const typename T::storage* xb = x + plan_offset(o, p.kr, p.kd, p.ks);
    float sh = 0.0f;
    if (P::kShift) {
      float m = -INFINITY;
      if (p.rr == 1) {
        for (int64_t r = 0; r < p.count; ++r) m = MaxF{}(m, T::load(xb[r * p.rs[0]]));
      } else {
        for (int64_t r = 0; r < p.count; ++r) m = MaxF{}(m, T::load(xb[plan_offset(r, p.rr, p.rd, p.rs)]));
      }
      sh = finite_or_zero(m);
    }
    float a = P::init();
    if (p.rr == 1) {
      for (int64_t r = 0; r < p.count; ++r) a = P::comb(a, P::map(T::load(xb[r * p.rs[0]]), sh));
    } else {
      for (int64_t r = 0; r < p.count; ++r) a = P::comb(a, P::map(T::load(xb[plan_offset(r, p.rr, p.rd, p.rs)]), sh));
    }
    y[o] = T::store(P::post(a, p.count, sh));
  }
}

template <class T>
__global__ void fill_kernel(typename T::storage* y, int64_t n, float v) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    y[i] = T::store(v);
}

int axes_input_opset(const std::string& op) { return op == "ReduceSum" ? 13 : 18; }

template <int Op>
void reduce_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const std::string& op = ctx.node().op_type;
  std::vector<int64_t> axes;
  bool noop = false;
  if (ctx.opset() >= axes_input_opset(op)) {
    if (ctx.has_input(1)) axes = ctx.input(1).to_int64_vector();  // host input
    noop = ctx.attrs().get_int("noop_with_empty_axes", 0) != 0;
  } else {
    axes = ctx.attrs().get_ints("axes");
  }
  if (axes.empty() && noop) {
    ctx.set_output(0, x);  // nothing to reduce: a view of the input
    return;
  }
  const int rank = x.rank();
  std::vector<bool> mask(rank, axes.empty());
  for (int64_t a : axes) mask[normalize_axis(a, rank, "axes")] = true;
  Tensor& y = ctx.output(0);
  const int64_t outs = y.numel();
  if (outs == 0) return;
  KernelLaunch env(ctx);
  dispatch_float_types(x.dtype(), op.c_str(), [&](auto tag) {
    using T = decltype(tag);
    using S = typename T::storage;
    if (x.numel() == 0) {  // a reduced dim is empty: every output is the reduction of nothing
      const float v = Pol<Op>::post(Pol<Op>::init(), 0, 0.0f);
      fill_kernel<T><<<blocks_for(outs), kThreads, 0, env.stream()>>>(data_of<T>(y), outs, v);
      R1_GPU_CHECK_LAUNCH();
      return;
    }
    // Merged groups of (size, reduced), outermost first.
    std::vector<int64_t> gs;
    std::vector<bool> gr;
    for (int d = 0; d < rank; ++d) {
      const int64_t s = x.shape()[d];
      if (s == 1) continue;
      if (!gs.empty() && gr.back() == mask[d])
        gs.back() *= s;
      else {
        gs.push_back(s);
        gr.push_back(mask[d]);
      }
    }
    const int ng = static_cast<int>(gs.size());
    int64_t count = 1;
    for (int g = 0; g < ng; ++g)
      if (gr[g]) count *= gs[g];
    R1_CHECK(outs * count == x.numel(), InternalError)
        << op << ": output " << shape_str(y.shape()) << " does not match input " << shape_str(x.shape());
    const S* px = data_of<T>(x);
    S* py = data_of<T>(y);
    // Trailing contiguous reduced block (at most one reduced group, and it is last).
    int nred = 0;
    for (int g = 0; g < ng; ++g) nred += gr[g] ? 1 : 0;
    if (nred == 1 && gr[ng - 1]) {
      const int64_t n = gs[ng - 1];
      const unsigned grid = static_cast<unsigned>(outs < (1 << 20) ? outs : (1 << 20));
      reduce_rows<T, Op><<<grid, row_threads(n), 0, env.stream()>>>(px, py, outs, n);
      R1_GPU_CHECK_LAUNCH();
      return;
    }
    Plan p;
    p.count = count;
    int64_t stride = 1;
    for (int g = ng - 1; g >= 0; --g) {
      if (gr[g]) {
        R1_CHECK(p.rr < kMaxGroups, InputError) << op << ": too many reduced axis groups";
        p.rd[p.rr] = gs[g];
        p.rs[p.rr] = stride;
        ++p.rr;
      } else {
        R1_CHECK(p.kr < kMaxGroups, InputError) << op << ": too many kept axis groups";
        p.kd[p.kr] = gs[g];
        p.ks[p.kr] = stride;
        ++p.kr;
      }
      stride *= gs[g];
    }
    // Filled innermost first: reverse into outermost-first order.
    for (int i = 0, j = p.rr - 1; i < j; ++i, --j) {
      std::swap(p.rd[i], p.rd[j]);
      std::swap(p.rs[i], p.rs[j]);
    }
    for (int i = 0, j = p.kr - 1; i < j; ++i, --j) {
      std::swap(p.kd[i], p.kd[j]);
      std::swap(p.ks[i], p.ks[j]);
    }
    reduce_general<T, Op><<<blocks_for(outs), kThreads, 0, env.stream()>>>(px, py, outs, p);
    R1_GPU_CHECK_LAUNCH();
  });
}

// ---------------------------------------------------------------------------------------------
// ArgMax / ArgMin: the CPU kernel's scan semantics. The scan starts from element 0 and replaces
// the best on a strictly better value (select_last_index: better or equal). So a NaN at index 0
// gives 0, and NaNs elsewhere are never chosen; the parallel row kernel reproduces that by
// skipping NaNs and checking element 0 at the end.

template <bool kMax>
__device__ inline void pick(float& v, int& i, float v2, int i2, bool last) {
  if (i2 < 0) return;
  if (i < 0) {
    v = v2;
    i = i2;
    return;
  }
  bool take = kMax ? v2 > v : v2 < v;
  if (v2 == v) take = last ? i2 > i : i2 < i;
  if (take) {
    v = v2;
    i = i2;
  }
}

// One block per row of L contiguous elements (L + blockDim.x < 2^31: the int column index cannot overflow).
template <class T, bool kMax>
__global__ void arg_rows(const typename T::storage* x, int64_t* y, int64_t rows, int L, bool last) {
  __shared__ float sv[kMaxWarps];
  __shared__ int si[kMaxWarps];
  const int lane = threadIdx.x % WARP_SIZE, warp = threadIdx.x / WARP_SIZE;
  const int warps = blockDim.x / WARP_SIZE;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const typename T::storage* xr = x + row * L;
    float bv = 0.0f;
    int bi = -1;
    for (int j = threadIdx.x; j < L; j += blockDim.x) {
      const float v = T::load(xr[j]);
      if (v == v) pick<kMax>(bv, bi, v, j, last);
    }
#pragma unroll
    for (int off = WARP_SIZE / 2; off > 0; off /= 2) {
      const float v2 = R1_SHFL_XOR(bv, off);
      const int i2 = R1_SHFL_XOR(bi, off);
      pick<kMax>(bv, bi, v2, i2, last);
    }
    if (lane == 0) {
      sv[warp] = bv;
      si[warp] = bi;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      float v = sv[0];
      int i = si[0];
      for (int w = 1; w < warps; ++w) pick<kMax>(v, i, sv[w], si[w], last);
      const float first = T::load(xr[0]);
      y[row] = (first != first || i < 0) ? 0 : i;
    }
    __syncthreads();
  }
}

// One thread per output (outer, inner) position: the CPU kernel's sequential scan.
template <class T, bool kMax>
__global__ void arg_scan(const typename T::storage* x, int64_t* y, int64_t outs, int64_t L, int64_t inner, bool last) {
  for (int64_t t = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; t < outs; t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t o = t / inner, i = t - o * inner;
    const typename T::storage* xr = x + o * L * inner + i;
    float best = T::load(xr[0]);
    int64_t bi = 0;
    for (int64_t j = 1; j < L; ++j) {
      const float v = T::load(xr[j * inner]);
      const bool better = kMax ? (last ? v >= best : v > best) : (last ? v <= best : v < best);
      if (better) {
        best = v;
        bi = j;
      }
    }
    y[t] = bi;
  }
}

template <bool kMax>
void arg_kernel(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const int rank = x.rank();
  const int axis = normalize_axis(ctx.attrs().get_int("axis", 0), rank > 1 ? rank : 1, "axis");
  const bool last = ctx.attrs().get_int("select_last_index", 0) != 0;
  const Shape& s = x.shape();
  int64_t outer = 1, L = rank ? s[axis] : 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (int i = axis + 1; i < rank; ++i) inner *= s[i];
  R1_CHECK(y.dtype() == DType::Int64, InternalError) << ctx.node().op_type << ": output must be int64";
  if (y.numel() == 0) return;
  R1_CHECK(L > 0, InputError) << ctx.node().op_type << " over an empty axis";
  const int64_t outs = outer * inner;
  R1_CHECK(y.numel() == outs, InternalError)
      << ctx.node().op_type << ": output " << shape_str(y.shape()) << " does not match input " << shape_str(s);
  KernelLaunch env(ctx);
  dispatch_float_types(x.dtype(), ctx.node().op_type.c_str(), [&](auto tag) {
    using T = decltype(tag);
    int64_t* py = static_cast<int64_t*>(y.raw());
    if (inner == 1 && L <= INT_MAX - kMaxRowThreads) {  // j + blockDim.x stays below INT_MAX
      const unsigned grid = static_cast<unsigned>(outs < (1 << 20) ? outs : (1 << 20));
      arg_rows<T, kMax><<<grid, row_threads(L), 0, env.stream()>>>(data_of<T>(x), py, outs, static_cast<int>(L), last);
    } else {
      arg_scan<T, kMax><<<blocks_for(outs), kThreads, 0, env.stream()>>>(data_of<T>(x), py, outs, L, inner, last);
    }
    R1_GPU_CHECK_LAUNCH();
  });
}

// A float input (read in device memory) and the int64 output.
bool arg_supported(const Node& n) {
  return !n.inputs.empty() && n.inputs[0] && is_float(n.inputs[0]->dtype) && !n.outputs.empty() && n.outputs[0] &&
         n.outputs[0]->dtype == DType::Int64;
}

}  // namespace

void register_reduce_kernels(KernelTable& t) {
  constexpr uint32_t kAxesHost = 1u << 1;  // axes input (opset >= 18; ReduceSum >= 13)
  t.add("ReduceSum", reduce_kernel<kSum>, "", kAxesHost);
  t.add("ReduceMean", reduce_kernel<kMean>, "", kAxesHost);
  t.add("ReduceMax", reduce_kernel<kMax>, "", kAxesHost);
  t.add("ReduceMin", reduce_kernel<kMin>, "", kAxesHost);
  t.add("ReduceProd", reduce_kernel<kProd>, "", kAxesHost);
  t.add("ReduceL1", reduce_kernel<kL1>, "", kAxesHost);
  t.add("ReduceL2", reduce_kernel<kL2>, "", kAxesHost);
  t.add("ReduceSumSquare", reduce_kernel<kSumSquare>, "", kAxesHost);
  t.add("ReduceLogSum", reduce_kernel<kLogSum>, "", kAxesHost);
  t.add("ReduceLogSumExp", reduce_kernel<kLogSumExp>, "", kAxesHost);
  t.add("ArgMax", arg_kernel<true>, "", 0, arg_supported);
  t.add("ArgMin", arg_kernel<false>, "", 0, arg_supported);
}

}  // namespace r1::gpu
