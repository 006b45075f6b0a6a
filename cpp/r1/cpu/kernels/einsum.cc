// Einsum on CPU: operands are contracted left to right, two at a time. Each pairwise step packs
// both operands (strided gathers: transposes, diagonals, broadcasts) into [batch, free, contract]
// and [batch, contract, free] and runs one batched GEMM; labels only one side has and nobody needs
// later are contracted against a stride-0 operand. A single operand is contracted against the
// scalar 1. The result is permuted into the output's label order at the end.
#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "r1/cpu/gemm/blas.h"
#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"
#include "r1/ir/ops/einsum.h"

namespace r1::cpu {
namespace {

template <class T>
struct View {
  std::vector<int> labels;       // unique labels
  std::vector<int64_t> strides;  // element stride per label (0: broadcast)
  const T* data = nullptr;
  std::vector<T> own;  // storage of intermediate results
};

template <class T>
void batched_gemm(int64_t batch, int64_t M, int64_t N, int64_t K, const T* A, const T* B, T* C, ThreadPool& pool) {
  if constexpr (std::is_same_v<T, float>) {
    sgemm_batched(false, false, batch, M, N, K, 1.f, A, K, M * K, B, N, K * N, 0.f, C, N, M * N, pool);
  } else {
    pool.parallel_for(0, batch * M, std::max<int64_t>(1, kGemmParallelWork / std::max<int64_t>(N * K, 1)),
                      [&](int64_t r0, int64_t r1) {
                        for (int64_t r = r0; r < r1; ++r) {
                          int64_t b = r / M, i = r % M;
                          const T* a = A + b * M * K + i * K;
                          const T* bb = B + b * K * N;
                          T* c = C + b * M * N + i * N;
                          std::fill(c, c + N, T(0));
                          for (int64_t k = 0; k < K; ++k) {
                            T av = a[k];
                            const T* br = bb + k * N;
                            for (int64_t j = 0; j < N; ++j) c[j] = static_cast<T>(c[j] + av * br[j]);
                          }
                        }
                      });
  }
}

// Gathers `v` into a contiguous buffer ordered by `order` (labels v lacks get stride 0).
template <class T>
void pack(const View<T>& v, const std::vector<int>& order, const std::map<int, int64_t>& size, T* dst,
          ThreadPool& pool) {
  Shape shape;
  std::vector<int64_t> strides;
  for (int l : order) {
    shape.push_back(size.at(l));
    auto it = std::find(v.labels.begin(), v.labels.end(), l);
    strides.push_back(it == v.labels.end() ? 0 : v.strides[it - v.labels.begin()]);
  }
  if (shape.empty()) {
    dst[0] = v.data[0];
    return;
  }
  copy_strided(v.data, dst, sizeof(T), shape, strides, pool);
}

template <class T>
View<T> contract(const View<T>& a, const View<T>& b, const std::set<int>& keep, const std::map<int, int64_t>& size,
                 ThreadPool& pool) {
  auto has = [](const View<T>& v, int l) { return std::find(v.labels.begin(), v.labels.end(), l) != v.labels.end(); };
  std::vector<int> batch, afree, bfree, red;
  for (int l : a.labels) {
    bool k = keep.count(l) != 0;
    if (has(b, l))
      (k ? batch : red).push_back(l);
    else
      (k ? afree : red).push_back(l);
  }
  for (int l : b.labels)
    if (!has(a, l)) (keep.count(l) ? bfree : red).push_back(l);
  auto prod = [&](const std::vector<int>& ls) {
    int64_t p = 1;
    for (int l : ls) p *= size.at(l);
    return p;
  };
  int64_t nb = prod(batch), M = prod(afree), N = prod(bfree), K = prod(red);
  std::vector<int> ao = batch, bo = batch;
  ao.insert(ao.end(), afree.begin(), afree.end());
  ao.insert(ao.end(), red.begin(), red.end());
  bo.insert(bo.end(), red.begin(), red.end());
  bo.insert(bo.end(), bfree.begin(), bfree.end());
  std::vector<T> pa(static_cast<size_t>(std::max<int64_t>(nb * M * K, 1))),
      pb(static_cast<size_t>(std::max<int64_t>(nb * K * N, 1)));
  View<T> r;
  r.labels = batch;
  r.labels.insert(r.labels.end(), afree.begin(), afree.end());
  r.labels.insert(r.labels.end(), bfree.begin(), bfree.end());
  r.own.assign(static_cast<size_t>(std::max<int64_t>(nb * M * N, 1)), T(0));
  if (nb * M * N > 0 && K > 0) {
    pack(a, ao, size, pa.data(), pool);
    pack(b, bo, size, pb.data(), pool);
    batched_gemm<T>(nb, M, N, K, pa.data(), pb.data(), r.own.data(), pool);
  }
  r.data = r.own.data();
  int64_t st = 1;
  r.strides.assign(r.labels.size(), 0);
  for (int i = static_cast<int>(r.labels.size()) - 1; i >= 0; --i) {
    r.strides[i] = st;
    st *= size.at(r.labels[i]);
  }
  return r;
}

template <class T>
void einsum_typed(const std::vector<const T*>& ins, const std::vector<Shape>& shapes, const EinsumSpec& spec, T* out,
                  ThreadPool& pool) {
  std::map<int, int64_t> size;
  for (size_t i = 0; i < ins.size(); ++i)
    for (size_t d = 0; d < shapes[i].size(); ++d) {
      int l = spec.inputs[i][d];
      int64_t v = shapes[i][d];
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
  std::vector<View<T>> views(ins.size());
  for (size_t i = 0; i < ins.size(); ++i) {
    View<T>& v = views[i];
    v.data = ins[i];
    std::vector<int64_t> st = contiguous_strides(shapes[i]);
    for (size_t d = 0; d < shapes[i].size(); ++d) {
      int l = spec.inputs[i][d];
      int64_t s = (shapes[i][d] == 1 && size[l] != 1) ? 0 : st[d];
      auto it = std::find(v.labels.begin(), v.labels.end(), l);
      if (it != v.labels.end()) {
        R1_CHECK(shapes[i][d] == size[l], InputError) << "Einsum: a repeated label needs equal dims";
        v.strides[it - v.labels.begin()] += s;
      } else {
        v.labels.push_back(l);
        v.strides.push_back(s);
      }
    }
  }
  std::set<int> out_labels(spec.output.begin(), spec.output.end());
  View<T> one;
  T one_val = T(1);
  one.data = &one_val;
  View<T> acc = std::move(views[0]);
  if (views.size() == 1) {
    acc = contract(acc, one, out_labels, size, pool);
  }
  for (size_t i = 1; i < views.size(); ++i) {
    std::set<int> keep = out_labels;
    for (size_t j = i + 1; j < views.size(); ++j) keep.insert(views[j].labels.begin(), views[j].labels.end());
    acc = contract(acc, views[i], keep, size, pool);
  }
  // acc holds exactly the output labels, in some order: permute into the output.
  Shape oshape;
  std::vector<int64_t> ostrides;
  for (int l : spec.output) {
    oshape.push_back(size.at(l));
    auto it = std::find(acc.labels.begin(), acc.labels.end(), l);
    ostrides.push_back(it == acc.labels.end() ? 0 : acc.strides[it - acc.labels.begin()]);
  }
  if (oshape.empty()) {
    out[0] = acc.data[0];
    return;
  }
  copy_strided(acc.data, out, sizeof(T), oshape, ostrides, pool);
}

void einsum_kernel(KernelContext& ctx) {
  std::vector<int> ranks;
  std::vector<Shape> shapes;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    ranks.push_back(ctx.input(i).rank());
    shapes.push_back(ctx.input(i).shape());
  }
  EinsumSpec spec = parse_einsum(ctx.attrs().get_string("equation", ""), ranks);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return;
  ThreadPool& pool = ctx.pool();
  DType t = y.dtype();
  if (is_float(t)) {
    std::vector<std::vector<float>> bufs(ctx.num_inputs());
    std::vector<const float*> ins;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      const Tensor& x = ctx.input(i);
      if (t == DType::Float32) {
        ins.push_back(x.data<float>());
        continue;
      }
      bufs[i].resize(static_cast<size_t>(x.numel()));
      dispatch_float(t, [&](auto tag) {
        using T = decltype(tag);
        const T* s = x.data<T>();
        for (int64_t k = 0; k < x.numel(); ++k) bufs[i][k] = static_cast<float>(s[k]);
      });
      ins.push_back(bufs[i].data());
    }
    if (t == DType::Float32) {
      einsum_typed<float>(ins, shapes, spec, y.data<float>(), pool);
      return;
    }
    std::vector<float> out(static_cast<size_t>(y.numel()));
    einsum_typed<float>(ins, shapes, spec, out.data(), pool);
    dispatch_float(t, [&](auto tag) {
      using T = decltype(tag);
      T* d = y.data<T>();
      for (int64_t k = 0; k < y.numel(); ++k) d[k] = T(out[k]);
    });
    return;
  }
  dispatch_numeric(t, [&](auto tag) {
    using T = decltype(tag);
    if constexpr ((std::is_integral_v<T> && !std::is_same_v<T, bool>) || std::is_same_v<T, double>) {
      std::vector<const T*> ins;
      for (size_t i = 0; i < ctx.num_inputs(); ++i) ins.push_back(ctx.input(i).data<T>());
      einsum_typed<T>(ins, shapes, spec, y.data<T>(), pool);
    } else {
      R1_THROW(InternalError) << "Einsum of " << dtype_name(t) << " reached the integer path";
    }
  });
}

}  // namespace

void register_einsum_kernels(KernelTable& t) { t.add("Einsum", einsum_kernel); }

}  // namespace r1::cpu
