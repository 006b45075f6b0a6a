// CPU kernels of the detector post-processing ops. NonMaxSuppression and RoiAlign follow
// onnxruntime's CPU kernels step for step (ties, boundary clamps, the max mode of RoiAlign), since
// detectors are validated against it and any difference moves a box.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "r1/cpu/kernels/common.h"
#include "r1/cpu/kernels/families.h"
#include "r1/cpu/kernels/norm_util.h"

namespace r1::cpu {
namespace {

struct Box {
  float y1, x1, y2, x2;  // sorted corners: y1 <= y2, x1 <= x2
};

Box read_box(const float* b, bool center) {
  if (center) {
    float xc = b[0], yc = b[1], w2 = b[2] / 2, h2 = b[3] / 2;
    return {yc - h2, xc - w2, yc + h2, xc + w2};
  }
  // Corners may come in either order ("any diagonal pair").
  return {std::min(b[0], b[2]), std::min(b[1], b[3]), std::max(b[0], b[2]), std::max(b[1], b[3])};
}

// True when a and b overlap by more than the threshold (intersection over union).
bool overlaps(const Box& a, const Box& b, float iou_threshold) {
  float ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  float iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  if (ih <= 0 || iw <= 0) return false;
  float inter = ih * iw;
  float area_a = (a.y2 - a.y1) * (a.x2 - a.x1), area_b = (b.y2 - b.y1) * (b.x2 - b.x1);
  if (area_a <= 0 || area_b <= 0) return false;
  float uni = area_a + area_b - inter;
  if (uni <= 0) return false;
  return inter / uni > iou_threshold;
}

void non_max_suppression(KernelContext& ctx) {
  const Tensor& boxes_t = ctx.input(0);
  const Tensor& scores_t = ctx.input(1);
  const Shape& bs = boxes_t.shape();
  const Shape& ss = scores_t.shape();
  R1_CHECK(bs.size() == 3 && bs[2] == 4 && ss.size() == 3 && bs[0] == ss[0] && bs[1] == ss[2], InputError)
      << "NonMaxSuppression: boxes " << boxes_t.describe() << " and scores " << scores_t.describe()
      << " do not match ([batches, boxes, 4] and [batches, classes, boxes])";
  int64_t max_out = ctx.has_input(2) && ctx.input(2).numel() > 0 ? ctx.input(2).to_int64_vector().at(0) : 0;
  float iou = ctx.has_input(3) && ctx.input(3).numel() > 0 ? static_cast<float>(ctx.input(3).scalar_as_double()) : 0;
  bool has_score_th = ctx.has_input(4) && ctx.input(4).numel() > 0;
  float score_th = has_score_th ? static_cast<float>(ctx.input(4).scalar_as_double()) : 0;
  R1_CHECK(iou >= 0 && iou <= 1, InputError) << "NonMaxSuppression: iou_threshold must be in [0, 1], got " << iou;
  bool center = ctx.attrs().get_int("center_point_box", 0) != 0;
  int64_t B = bs[0], N = bs[1], C = ss[1];
  std::vector<float> boxes = to_floats(boxes_t), scores = to_floats(scores_t);
  std::vector<int64_t> rows;  // (batch, class, box) triples
  if (max_out > 0 && N > 0) {
    std::vector<Box> all(static_cast<size_t>(N));
    std::vector<std::pair<float, int64_t>> cand;
    std::vector<Box> kept;
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t i = 0; i < N; ++i) all[i] = read_box(&boxes[(b * N + i) * 4], center);
      for (int64_t c = 0; c < C; ++c) {
        const float* s = &scores[(b * C + c) * N];
        cand.clear();
        for (int64_t i = 0; i < N; ++i)
          if (!has_score_th || s[i] > score_th) cand.emplace_back(s[i], i);
        // Higher score first; equal scores by lower box index (onnxruntime's priority queue order).
        std::stable_sort(cand.begin(), cand.end(), [](const auto& a, const auto& c2) { return a.first > c2.first; });
        kept.clear();
        for (const auto& [score, i] : cand) {
          if (static_cast<int64_t>(kept.size()) >= max_out) break;
          bool drop = false;
          for (const Box& k : kept)
            if (overlaps(k, all[i], iou)) {
              drop = true;
              break;
            }
          if (drop) continue;
          kept.push_back(all[i]);
          rows.insert(rows.end(), {b, c, i});
        }
      }
    }
  }
  int64_t n = static_cast<int64_t>(rows.size()) / 3;
  Tensor& y = ctx.allocate_output(0, {n, 3}, DType::Int64);
  std::copy(rows.begin(), rows.end(), y.data<int64_t>());
}

// Bilinear sample positions and weights of one output cell's sampling point.
struct Sample {
  int64_t pos[4];
  float w[4];
};

// The sampling points of every output cell of one region, shared by all channels.
void region_samples(float start_h, float start_w, float bin_h, float bin_w, int64_t grid_h, int64_t grid_w, int64_t oh,
                    int64_t ow, int64_t H, int64_t W, std::vector<Sample>* out) {
  out->clear();
  for (int64_t ph = 0; ph < oh; ++ph)
    for (int64_t pw = 0; pw < ow; ++pw)
      for (int64_t iy = 0; iy < grid_h; ++iy) {
        float y0 = start_h + ph * bin_h + (iy + 0.5f) * bin_h / static_cast<float>(grid_h);
        for (int64_t ix = 0; ix < grid_w; ++ix) {
          float x = start_w + pw * bin_w + (ix + 0.5f) * bin_w / static_cast<float>(grid_w);
          float y = y0;
          Sample s{{0, 0, 0, 0}, {0, 0, 0, 0}};
          if (y < -1.0f || y > static_cast<float>(H) || x < -1.0f || x > static_cast<float>(W)) {
            out->push_back(s);  // outside the map: contributes zero
            continue;
          }
          y = std::max(y, 0.0f);
          x = std::max(x, 0.0f);
          int64_t yl = static_cast<int64_t>(y), xl = static_cast<int64_t>(x), yh, xh;
          if (yl >= H - 1) {
            yh = yl = H - 1;
            y = static_cast<float>(yl);
          } else {
            yh = yl + 1;
          }
          if (xl >= W - 1) {
            xh = xl = W - 1;
            x = static_cast<float>(xl);
          } else {
            xh = xl + 1;
          }
          float ly = y - yl, lx = x - xl, hy = 1 - ly, hx = 1 - lx;
          s = {{yl * W + xl, yl * W + xh, yh * W + xl, yh * W + xh}, {hy * hx, hy * lx, ly * hx, ly * lx}};
          out->push_back(s);
        }
      }
}

void roi_align(KernelContext& ctx) {
  const Tensor& x_t = ctx.input(0);
  const Tensor& rois_t = ctx.input(1);
  std::vector<int64_t> batch = ctx.input(2).to_int64_vector();
  const Shape& xs = x_t.shape();
  int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3];
  int64_t R = rois_t.shape()[0];
  R1_CHECK(static_cast<int64_t>(batch.size()) == R, InputError)
      << "RoiAlign: " << R << " rois but " << batch.size() << " batch indices";
  for (int64_t b : batch)
    R1_CHECK(b >= 0 && b < N, InputError) << "RoiAlign: batch index " << b << " out of range for " << N << " images";
  bool max_mode = ctx.attrs().get_string("mode", "avg") == "max";
  bool half_pixel = ctx.attrs().get_string("coordinate_transformation_mode",
                                           ctx.opset() < 16 ? "output_half_pixel" : "half_pixel") == "half_pixel";
  int64_t oh = ctx.attrs().get_int("output_height", 1), ow = ctx.attrs().get_int("output_width", 1);
  int64_t ratio = ctx.attrs().get_int("sampling_ratio", 0);
  float scale = ctx.attrs().get_float("spatial_scale", 1.0f);
  FloatIn xin = float_input(x_t, ctx.pool());
  std::vector<float> rois = to_floats(rois_t);
  Tensor& y_t = ctx.output(0);
  if (y_t.numel() == 0) return;
  FloatOut yout;
  yout.init(y_t);
  const float* X = xin.p;
  float* Y = yout.p;
  ctx.pool().parallel_for(0, R, 1, [&](int64_t rb, int64_t re) {
    std::vector<Sample> samples;
    for (int64_t r = rb; r < re; ++r) {
      const float* roi = &rois[r * 4];
      float off = half_pixel ? 0.5f : 0.0f;
      float sw = roi[0] * scale - off, sh = roi[1] * scale - off;
      float rw = roi[2] * scale - off - sw, rh = roi[3] * scale - off - sh;
      if (!half_pixel) {  // malformed regions become 1x1
        rw = std::max(rw, 1.0f);
        rh = std::max(rh, 1.0f);
      }
      float bin_h = rh / oh, bin_w = rw / ow;
      int64_t gh = ratio > 0 ? ratio : static_cast<int64_t>(std::ceil(rh / oh));
      int64_t gw = ratio > 0 ? ratio : static_cast<int64_t>(std::ceil(rw / ow));
      gh = std::max<int64_t>(gh, 0);
      gw = std::max<int64_t>(gw, 0);
      float count = static_cast<float>(std::max<int64_t>(gh * gw, 1));
      region_samples(sh, sw, bin_h, bin_w, gh, gw, oh, ow, H, W, &samples);
      for (int64_t c = 0; c < C; ++c) {
        const float* img = X + (batch[r] * C + c) * H * W;
        float* out = Y + ((r * C + c) * oh) * ow;
        const Sample* s = samples.data();
        for (int64_t cell = 0; cell < oh * ow; ++cell) {
          float v = 0;
          if (max_mode) {
            bool first = true;
            for (int64_t k = 0; k < gh * gw; ++k, ++s) {
              float m = std::max(std::max(s->w[0] * img[s->pos[0]], s->w[1] * img[s->pos[1]]),
                                 std::max(s->w[2] * img[s->pos[2]], s->w[3] * img[s->pos[3]]));
              v = first ? m : std::max(v, m);
              first = false;
            }
          } else {
            for (int64_t k = 0; k < gh * gw; ++k, ++s)
              v += s->w[0] * img[s->pos[0]] + s->w[1] * img[s->pos[1]] + s->w[2] * img[s->pos[2]] +
                   s->w[3] * img[s->pos[3]];
            v /= count;
          }
          out[cell] = v;
        }
      }
    }
  });
  yout.finish(ctx.pool());
}

void max_roi_pool(KernelContext& ctx) {
  const Tensor& x_t = ctx.input(0);
  const Shape& xs = x_t.shape();
  int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3];
  std::vector<int64_t> ps = ctx.attrs().get_ints("pooled_shape");
  int64_t ph_n = ps[0], pw_n = ps[1];
  float scale = ctx.attrs().get_float("spatial_scale", 1.0f);
  std::vector<float> rois = to_floats(ctx.input(1));
  FloatIn xin = float_input(x_t, ctx.pool());
  Tensor& y_t = ctx.output(0);
  int64_t R = ctx.input(1).shape()[0];
  if (y_t.numel() == 0) return;
  FloatOut yout;
  yout.init(y_t);
  for (int64_t r = 0; r < R; ++r) {
    const float* roi = &rois[r * 5];
    auto b = static_cast<int64_t>(roi[0]);
    R1_CHECK(b >= 0 && b < N, InputError) << "MaxRoiPool: batch index " << b << " out of range for " << N << " images";
    auto x1 = static_cast<int64_t>(std::round(roi[1] * scale)), y1 = static_cast<int64_t>(std::round(roi[2] * scale));
    auto x2 = static_cast<int64_t>(std::round(roi[3] * scale)), y2 = static_cast<int64_t>(std::round(roi[4] * scale));
    float bin_h = static_cast<float>(std::max<int64_t>(y2 - y1 + 1, 1)) / ph_n;
    float bin_w = static_cast<float>(std::max<int64_t>(x2 - x1 + 1, 1)) / pw_n;
    for (int64_t c = 0; c < C; ++c) {
      const float* img = xin.p + (b * C + c) * H * W;
      float* out = yout.p + (r * C + c) * ph_n * pw_n;
      for (int64_t ph = 0; ph < ph_n; ++ph)
        for (int64_t pw = 0; pw < pw_n; ++pw) {
          auto clamp = [](int64_t v, int64_t hi) { return std::min(std::max<int64_t>(v, 0), hi); };
          int64_t hs = clamp(static_cast<int64_t>(std::floor(ph * bin_h)) + y1, H);
          int64_t he = clamp(static_cast<int64_t>(std::ceil((ph + 1) * bin_h)) + y1, H);
          int64_t ws = clamp(static_cast<int64_t>(std::floor(pw * bin_w)) + x1, W);
          int64_t we = clamp(static_cast<int64_t>(std::ceil((pw + 1) * bin_w)) + x1, W);
          bool empty = he <= hs || we <= ws;
          float m = empty ? 0.0f : -std::numeric_limits<float>::max();
          for (int64_t h = hs; h < he; ++h)
            for (int64_t w = ws; w < we; ++w) m = std::max(m, img[h * W + w]);
          out[ph * pw_n + pw] = m;
        }
    }
  }
  yout.finish(ctx.pool());
}

}  // namespace

void register_detection_kernels(KernelTable& t) {
  t.add("NonMaxSuppression", non_max_suppression);
  t.add("RoiAlign", roi_align);
  t.add("MaxRoiPool", max_roi_pool);
}
}  // namespace r1::cpu
