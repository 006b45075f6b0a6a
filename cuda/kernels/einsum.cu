// Einsum for float32 / float16 / bfloat16 (fp32 accumulation), any equation the CPU kernel accepts
// within the limits below (integer Einsum stays on the CPU).
//
// The equation is parsed on the host by the same parser the CPU kernel and shape inference use
// (r1/ir/ops/einsum.h: implicit output, ellipsis broadcasting, a label repeated on one
// operand takes the diagonal). Every distinct label gets a size, and every operand an element
// stride per label (0 where it lacks the label or broadcasts a size-1 dim; the sum of its dims'
// strides where the label repeats). One generic kernel then runs one thread per output element,
// looping over the whole contracted index space with an odometer over the contracted labels.
//
// Correct over fast: no GEMM, no pairwise contraction order, O(output * contracted) work with
// stride-heavy loads. Fine for the small contractions Einsum shows up with in exported models;
// large matmul-like equations are better rewritten to MatMul by the exporter.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "elementwise.cuh"
#include "families.h"
#include "r1/ir/ops/einsum.h"

namespace r1::gpu {
namespace {

constexpr int kMaxOps = 8;      // operands
constexpr int kMaxLabels = 24;  // distinct labels (letters + ellipsis dims) of one equation

struct EinsumParams {
  int nops = 0;
  int nout = 0;  // labels [0, nout): the output's, in its dim order
  int nlab = 0;  // labels [nout, nlab): contracted
  int64_t out_numel = 0;
  int64_t red_numel = 0;
  int64_t size[kMaxLabels] = {};
  int64_t stride[kMaxOps][kMaxLabels] = {};
  const void* in[kMaxOps] = {};
};

template <class T>
__global__ void einsum_kernel(EinsumParams p, typename T::storage* y) {
  using S = typename T::storage;
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < p.out_numel;
       o += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[kMaxOps];
    for (int k = 0; k < kMaxOps; ++k) off[k] = 0;
    // Output coordinates (row-major over the output labels).
    int64_t rem = o;
    for (int l = p.nout - 1; l >= 0; --l) {
      const int64_t i = rem % p.size[l];
      rem /= p.size[l];
      for (int k = 0; k < p.nops; ++k) off[k] += i * p.stride[k][l];
    }
    // Odometer over the contracted labels, the last one fastest.
    int64_t idx[kMaxLabels];
    for (int l = 0; l < kMaxLabels; ++l) idx[l] = 0;
    float acc = 0.f;
    for (int64_t c = 0; c < p.red_numel; ++c) {
      float prod = 1.f;
      for (int k = 0; k < p.nops; ++k) prod *= T::load(static_cast<const S*>(p.in[k])[off[k]]);
      acc += prod;
      for (int l = p.nlab - 1; l >= p.nout; --l) {
        ++idx[l];
        for (int k = 0; k < p.nops; ++k) off[k] += p.stride[k][l];
        if (idx[l] < p.size[l]) break;
        for (int k = 0; k < p.nops; ++k) off[k] -= p.size[l] * p.stride[k][l];
        idx[l] = 0;
      }
    }
    y[o] = T::store(acc);
  }
}

void einsum(KernelContext& ctx) {
  const size_t nin = ctx.num_inputs();
  R1_CHECK(nin >= 1, ModelError) << "Einsum needs at least one input";
  R1_CHECK(nin <= static_cast<size_t>(kMaxOps), InputError)
      << "Einsum on " R1_GPU_BACKEND_NAME " supports at most " << kMaxOps << " operands, got " << nin;
  std::vector<int> ranks;
  std::vector<Shape> shapes;
  for (size_t i = 0; i < nin; ++i) {
    R1_CHECK(ctx.has_input(i), InputError) << "Einsum: input " << i << " is missing";
    ranks.push_back(ctx.input(i).rank());
    shapes.push_back(ctx.input(i).shape());
  }
  const std::string eq = ctx.attrs().get_string("equation", "");
  R1_CHECK(!eq.empty(), ModelError) << "Einsum needs an 'equation' attribute";
  const EinsumSpec spec = parse_einsum(eq, ranks);
  const DType dt = ctx.input(0).dtype();
  for (size_t i = 1; i < nin; ++i)
    R1_CHECK(ctx.input(i).dtype() == dt, InputError)
        << "Einsum: inputs have different dtypes: " << dtype_name(dt) << " and " << dtype_name(ctx.input(i).dtype());

  // Label sizes: a size-1 dim broadcasts against the label's other dims (as on the CPU).
  std::map<int, int64_t> size;
  for (size_t i = 0; i < nin; ++i)
    for (size_t d = 0; d < shapes[i].size(); ++d) {
      const int l = spec.inputs[i][d];
      const int64_t v = shapes[i][d];
      auto it = size.find(l);
      if (it == size.end() || it->second == 1) {
        size[l] = v;
      } else {
        R1_CHECK(v == it->second || v == 1, InputError)
            << "Einsum: dimension mismatch for a label (" << it->second << " vs " << v << ")";
      }
    }
  for (int l : spec.output)
    if (!size.count(l)) size[l] = 1;

  // Label order: the output's dims, then the contracted labels.
  std::vector<int> labels = spec.output;
  for (const auto& kv : size)
    if (std::find(labels.begin(), labels.end(), kv.first) == labels.end()) labels.push_back(kv.first);
  R1_CHECK(labels.size() <= static_cast<size_t>(kMaxLabels), InputError)
      << "Einsum on " R1_GPU_BACKEND_NAME " supports at most " << kMaxLabels << " distinct labels, equation '" << eq
      << "' has " << labels.size();

  EinsumParams p;
  p.nops = static_cast<int>(nin);
  p.nout = static_cast<int>(spec.output.size());
  p.nlab = static_cast<int>(labels.size());
  auto label_pos = [&](int l) { return static_cast<int>(std::find(labels.begin(), labels.end(), l) - labels.begin()); };
  for (int j = 0; j < p.nlab; ++j) p.size[j] = size.at(labels[j]);
  for (size_t i = 0; i < nin; ++i) {
    // Contiguous strides of the operand, summed per label (a repeated label walks the diagonal).
    std::vector<int64_t> st(shapes[i].size(), 1);
    for (int d = static_cast<int>(shapes[i].size()) - 2; d >= 0; --d) st[d] = st[d + 1] * shapes[i][d + 1];
    std::vector<bool> seen(static_cast<size_t>(p.nlab), false);
    for (size_t d = 0; d < shapes[i].size(); ++d) {
      const int l = spec.inputs[i][d];
      const int j = label_pos(l);
      const int64_t s = (shapes[i][d] == 1 && size.at(l) != 1) ? 0 : st[d];
      if (seen[j]) {
        R1_CHECK(shapes[i][d] == size.at(l), InputError) << "Einsum: a repeated label needs equal dims";
      }
      seen[j] = true;
      p.stride[i][j] += s;
    }
    p.in[i] = ctx.input(i).raw();
  }
  p.out_numel = 1;
  for (int j = 0; j < p.nout; ++j) p.out_numel *= p.size[j];
  p.red_numel = 1;
  for (int j = p.nout; j < p.nlab; ++j) p.red_numel *= p.size[j];

  Tensor& y = ctx.output(0);
  R1_CHECK(y.numel() == p.out_numel, InputError) << "Einsum: output of shape " << shape_str(y.shape())
                                                 << " does not hold the equation's " << p.out_numel << " elements";
  if (p.out_numel == 0) return;
  KernelLaunch env(ctx);
  dispatch_float_types(dt, "Einsum", [&](auto tag) {
    using T = decltype(tag);
    einsum_kernel<T><<<blocks_for(p.out_numel), kThreads, 0, env.stream()>>>(p, data_of<T>(y));
    R1_GPU_CHECK_LAUNCH();
  });
}

// Float operands and output (the default rule), at most kMaxOps operands and kMaxLabels labels.
// An ellipsis of unknown rank counts as kMaxRank dims.
bool supports_einsum(const Node& n) {
  if (!supports_float_types(n, 0)) return false;
  if (n.inputs.empty() || n.inputs.size() > static_cast<size_t>(kMaxOps)) return false;
  const std::string eq = n.attrs.get_string("equation", "");
  bool letters[128] = {};
  int count = 0;
  for (char ch : eq) {
    const int c = static_cast<unsigned char>(ch);
    if (c < 128 && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) && !letters[c]) {
      letters[c] = true;
      ++count;
    }
  }
  if (eq.find("...") != std::string::npos) {
    int ell = 0;
    for (const Value* v : n.inputs) {
      if (!v) return false;
      ell = std::max(ell, v->has_shape ? static_cast<int>(v->shape.size()) : kMaxRank);
    }
    count += ell;  // at most the largest rank
  }
  return count <= kMaxLabels;
}

}  // namespace

void register_einsum_kernels(KernelTable& t) { t.add("Einsum", einsum, "", 0, supports_einsum); }
}  // namespace r1::gpu
