#include "r1/runtime/plan.h"

#include <utility>

#include "r1/ir/op_registry.h"
#include "r1/memory/planner.h"
#include "r1/memory/spill_planner.h"

namespace r1 {

std::vector<int> output_bases(const Graph& g) {
  std::vector<int> base;
  base.reserve(g.nodes().size() + 1);
  int total = 0;
  for (auto& n : g.nodes()) {
    base.push_back(total);
    total += static_cast<int>(n->outputs.size());
  }
  base.push_back(total);
  return base;
}

// ---------------------------------------------------------------------------------------------
// Plan

Plan::Plan(const Graph& g, Structure s, const std::vector<size_t>& need, std::vector<int64_t> bucket,
           size_t arena_limit)
    : structure_(std::move(s)), bucket_(std::move(bucket)) {
  const size_t ns = structure_.first.size();
  R1_CHECK(need.size() == ns, InternalError) << "plan: " << need.size() << " sizes for " << ns << " storages";
  value_storage_.assign(g.values().size(), -1);
  std::vector<int> base = output_bases(g);
  for (size_t st = 0; st < g.nodes().size(); ++st) {
    const Node& n = *g.nodes()[st];
    for (size_t i = 0; i < n.outputs.size(); ++i)
      if (n.outputs[i]) value_storage_[n.outputs[i]->id] = structure_.out_storage[base[st] + i];
  }
  std::vector<PlanBuffer> bufs(ns);
  for (size_t i = 0; i < ns; ++i)
    bufs[i] = {need[i], structure_.first[i], structure_.last[i], structure_.inplace_parent[i]};
  MemoryPlan mp = plan_memory(bufs);
  if (mp.arena_bytes > arena_limit) plan_spills_within(g, bufs, arena_limit, &mp);
  offsets_ = std::move(mp.offsets);
  offsets_.resize(ns);  // the read-back slots' offsets are in spills_
  capacity_.resize(ns);
  for (size_t i = 0; i < ns; ++i) capacity_[i] = align_up(need[i]);
  arena_bytes_ = mp.arena_bytes;
  sum_bytes_ = 0;
  for (size_t i = 0; i < ns; ++i) sum_bytes_ += need[i];
  inplace_step_.assign(g.nodes().size(), 0);
  for (size_t i = 0; i < ns; ++i)
    if (mp.inplace[i] >= 0) inplace_step_[structure_.first[i]] = 1;
}

void Plan::plan_spills_within(const Graph& g, const std::vector<PlanBuffer>& bufs, size_t arena_limit, MemoryPlan* mp) {
  // The step that makes each storage (its lifetime may start earlier: widened to a group of steps run side by
  // side), and the steps reading it (through any value lying in it) after that.
  const size_t ns = bufs.size();
  std::vector<int> made(ns, -1);
  std::vector<int> base = output_bases(g);
  for (size_t st = 0; st < g.nodes().size(); ++st)
    for (size_t i = 0; i < g.nodes()[st]->outputs.size(); ++i) {
      const int k = structure_.out_storage[base[st] + i];
      if (k >= 0 && structure_.out_fresh[base[st] + i] && made[k] < 0) made[k] = static_cast<int>(st);
    }
  for (size_t k = 0; k < ns; ++k)
    if (made[k] < 0) made[k] = bufs[k].first_step;
  std::vector<std::vector<int>> reads(ns);
  for (size_t st = 0; st < g.nodes().size(); ++st)
    for (const Value* v : g.nodes()[st]->inputs) {
      if (!v || v->is_constant()) continue;
      const int k = value_storage_[v->id];
      if (k < 0 || static_cast<int>(st) <= made[k]) continue;
      if (reads[k].empty() || reads[k].back() != static_cast<int>(st)) reads[k].push_back(static_cast<int>(st));
    }
  SpillPlan sp = plan_spills(bufs, reads, arena_limit, made);
  if (sp.spills.empty()) return;
  spill_of_.assign(ns, -1);
  for (size_t k = 0; k < sp.spills.size(); ++k) {
    const SpillChoice& c = sp.spills[k];
    PlanSpill s;
    s.storage = c.buffer;
    s.after = c.after;
    s.use = c.use;
    s.lead = c.lead;
    s.offset_back = sp.memory.offsets[ns + k];
    s.bytes = align_up(bufs[c.buffer].size_bytes);
    s.file_offset = spill_file_bytes_;
    spill_file_bytes_ += align_up(s.bytes, 4096);
    spill_of_[c.buffer] = static_cast<int>(k);
    spills_.push_back(std::move(s));
  }
  for (auto& v : g.values()) {
    const int k = value_storage_[v->id];
    if (k >= 0 && spill_of_[k] >= 0) spills_[spill_of_[k]].values.push_back(v->id);
  }
  *mp = std::move(sp.memory);
}

bool Plan::holds(int storage, size_t lo, size_t hi) const {
  auto in = [&](size_t at) { return lo >= at && hi <= at + capacity_[storage]; };
  if (in(offsets_[storage])) return true;
  return !spill_of_.empty() && spill_of_[storage] >= 0 && in(spills_[spill_of_[storage]].offset_back);
}

bool Plan::fits(const std::vector<size_t>& need) const {
  if (need.size() != capacity_.size()) return false;
  for (size_t i = 0; i < need.size(); ++i)
    if (need[i] > capacity_[i]) return false;
  return true;
}

std::shared_ptr<Buffer> Plan::checkout(Allocator& alloc) {
  {
    std::lock_guard<std::mutex> lk(arena_mu_);
    if (!free_arenas_.empty()) {
      std::shared_ptr<Buffer> a = std::move(free_arenas_.back());
      free_arenas_.pop_back();
      return a;
    }
    ++arenas_;
  }
  // Every arena is busy (or none exists yet): concurrent runs each get their own.
  return alloc.allocate(arena_bytes_);
}

void Plan::checkin(std::shared_ptr<Buffer> arena) {
  std::lock_guard<std::mutex> lk(arena_mu_);
  free_arenas_.push_back(std::move(arena));
}

int Plan::arenas() const {
  std::lock_guard<std::mutex> lk(arena_mu_);
  return arenas_;
}

// ---------------------------------------------------------------------------------------------
// PlanRecorder

PlanRecorder::PlanRecorder(const Graph& g, const std::vector<int>& last_reader, const Plan* layout, const Buffer* arena)
    : g_(g), last_reader_(last_reader), layout_(layout), arena_(arena), base_(output_bases(g)) {
  const size_t nv = g.values().size(), nsteps = g.nodes().size();
  shape_static_.assign(nv, 0);
  content_static_.assign(nv, 0);
  val_storage_.assign(nv, -1);
  for (const Value* v : g.inputs()) shape_static_[v->id] = 1;  // fixed by the key
  for (auto& v : g.values())
    if (v->is_constant()) shape_static_[v->id] = content_static_[v->id] = 1;
  s_.out_storage.assign(base_.back(), -1);
  s_.out_fresh.assign(base_.back(), 0);
  steps_.resize(nsteps);
  dynamic_.assign(nsteps, 0);
}

PlanRecorder::Region PlanRecorder::region(int value_id, const Tensor& t) const {
  const Buffer* b = t.buffer().get();
  if (!b) return {};
  if (b == arena_ && layout_) {
    int st = layout_->value_storage(value_id);
    if (st >= 0) return {b, layout_->offset(st), layout_->offset(st) + layout_->capacity(st)};
    return {b, t.byte_offset(), t.byte_offset() + t.nbytes()};
  }
  return {b, 0, b->size()};
}

// Re-runs inference with the contents of every input that is not shape-derived hidden: if it can
// no longer give each output the same concrete shape, the shapes depend on data (NonZero, Range
// or Reshape over computed values, TopK with a computed k, ...).
bool PlanRecorder::shapes_depend_on_data(const Node& n, const std::vector<const Tensor*>& ins,
                                         const std::vector<DType>& dtypes, const std::vector<Shape>& shapes) const {
  std::vector<InferContext::InputInfo> infos(n.inputs.size());
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    const Value* v = n.inputs[i];
    if (!v || !ins[i]) continue;
    // Values in device memory cannot be read by inference on the host: probe without them.
    const bool readable = ins[i]->buffer() && host_accessible(ins[i]->buffer()->kind());
    infos[i] = {ins[i]->dtype(), &ins[i]->shape(), content_static_[v->id] && readable ? ins[i] : nullptr};
  }
  InferContext probe(n, std::move(infos));
  try {
    run_infer(probe);
  } catch (...) {
    return true;  // it needed a value it did not get
  }
  for (size_t i = 0; i < n.outputs.size(); ++i) {
    if (!n.outputs[i]) continue;
    if (!probe.output_shape_known(i) || !is_static(probe.output_shape(i)) || probe.output_shape(i) != shapes[i] ||
        probe.output_dtype(i) != dtypes[i])
      return true;
  }
  return false;
}

void PlanRecorder::record_step(size_t s, const Node& n, const std::vector<const Tensor*>& ins,
                               const std::vector<Tensor>& outs, uint64_t allocated, const std::vector<DType>& dtypes,
                               const std::vector<Shape>& shapes, const std::vector<bool>& known,
                               uint32_t inplace_inputs) {
  const size_t nout = n.outputs.size();
  const int base = base_[s];
  StepShapes& ss = steps_[s];
  ss.dtypes.resize(nout);
  ss.shapes.resize(nout);
  ss.known.resize(nout);
  for (size_t i = 0; i < nout; ++i) {
    if (outs[i].defined()) {
      ss.dtypes[i] = outs[i].dtype();
      ss.shapes[i] = outs[i].shape();
      ss.known[i] = true;
    } else {
      ss.dtypes[i] = dtypes[i];
      ss.shapes[i] = shapes[i];
      ss.known[i] = known[i];
    }
  }

  // Shapes: static when every input shape is, inference knew every output, the kernel agreed,
  // and the shapes do not change with the contents of computed inputs.
  bool dyn = false, all_content = true;
  for (const Value* v : n.inputs) {
    if (!v) continue;
    if (!shape_static_[v->id]) dyn = true;
    if (!content_static_[v->id]) all_content = false;
  }
  for (size_t i = 0; i < nout && !dyn; ++i) {
    if (!n.outputs[i]) continue;
    dyn = !known[i] || !outs[i].defined() || outs[i].dtype() != dtypes[i] || outs[i].shape() != shapes[i];
  }
  if (!dyn && !all_content) dyn = shapes_depend_on_data(n, ins, dtypes, shapes);
  dynamic_[s] = dyn;
  const bool from_shape = n.domain.empty() && (n.op_type == "Shape" || n.op_type == "Size" || n.op_type == "EyeLike");
  for (const Value* o : n.outputs) {
    if (!o) continue;
    shape_static_[o->id] = !dyn;
    content_static_[o->id] = !dyn && (all_content || from_shape);
  }

  // Memory: an output the kernel allocated owns a new storage; any other output is a view of the
  // input whose memory it lies in (its storage, if any) or memory the arena never holds.
  for (size_t i = 0; i < nout; ++i) {
    const Value* ov = n.outputs[i];
    if (!ov) continue;
    const Tensor& o = outs[i];
    const int idx = base + static_cast<int>(i);
    if (i < 64 && ((allocated >> i) & 1)) {
      const int st = static_cast<int>(need_.size());
      need_.push_back(o.nbytes());
      first_.push_back(static_cast<int>(s));
      storage_region_.push_back({o.buffer().get(), o.byte_offset(), o.byte_offset() + o.nbytes()});
      s_.out_storage[idx] = st;
      s_.out_fresh[idx] = 1;
      val_storage_[ov->id] = st;
      continue;
    }
    int st = -1;
    for (size_t k = 0; k < ins.size() && o.buffer(); ++k) {
      if (!ins[k] || !n.inputs[k]) continue;
      Region r = region(n.inputs[k]->id, *ins[k]);
      if (r.buf == o.buffer().get() && o.byte_offset() >= r.lo && o.byte_offset() + o.nbytes() <= r.hi) {
        st = val_storage_[n.inputs[k]->id];
        break;
      }
    }
    s_.out_storage[idx] = st;
    val_storage_[ov->id] = st;
  }

  // In-place candidates: output 0 may take over input k's storage when k starts that storage with
  // the output's exact shape and dtype, and every other input in the same storage is that very
  // tensor (read at the index being written). finish() keeps those whose storage dies here.
  const uint32_t mask = inplace_inputs;
  if (!mask || nout == 0 || !n.outputs[0] || !s_.out_fresh[base]) return;
  const Tensor& o = outs[0];
  for (size_t k = 0; k < ins.size() && k < 32; ++k) {
    if (!((mask >> k) & 1) || !ins[k] || !n.inputs[k]) continue;
    const int p = val_storage_[n.inputs[k]->id];
    if (p < 0) continue;
    const Tensor& t = *ins[k];
    if (t.dtype() != o.dtype() || t.shape() != o.shape() || t.buffer().get() != storage_region_[p].buf ||
        t.byte_offset() != storage_region_[p].lo)
      continue;
    bool others_ok = true;
    for (size_t j = 0; j < ins.size(); ++j) {
      if (j == k || !ins[j] || !n.inputs[j] || val_storage_[n.inputs[j]->id] != p) continue;
      const Tensor& u = *ins[j];
      others_ok = others_ok && u.dtype() == t.dtype() && u.shape() == t.shape() && u.byte_offset() == t.byte_offset();
    }
    if (others_ok) inplace_.push_back({static_cast<int>(s), s_.out_storage[base], p});
  }
}

PlanRecorder::Result PlanRecorder::finish(std::vector<int64_t> key) {
  const int ns = static_cast<int>(need_.size());
  std::vector<int> last(first_);
  std::vector<char> external(ns, 0);
  for (auto& v : g_.values()) {
    const int st = val_storage_[v->id];
    if (st < 0) continue;
    last[st] = std::max(last[st], last_reader_[v->id]);
    // The caller keeps graph outputs after the next run reuses the arena: their memory (and the
    // memory of whatever they are views of) is allocated per run instead.
    if (v->is_graph_output) external[st] = 1;
  }
  std::vector<int> remap(ns, -1);
  Result r;
  r.shapes = std::make_shared<KeyShapes>();
  KeyShapes& ks = *r.shapes;
  Structure& out = r.structure;
  for (int st = 0; st < ns; ++st) {
    if (external[st]) continue;
    remap[st] = static_cast<int>(out.first.size());
    out.first.push_back(first_[st]);
    out.last.push_back(last[st]);
    out.inplace_parent.push_back(-1);
    ks.need.push_back(need_[st]);
  }
  out.out_storage = s_.out_storage;
  out.out_fresh = s_.out_fresh;
  for (int& st : out.out_storage)
    if (st >= 0) st = remap[st];
  for (const Inplace& c : inplace_) {
    const int child = remap[c.child], parent = remap[c.parent];
    if (child < 0 || parent < 0 || out.inplace_parent[child] >= 0) continue;
    if (last[c.parent] != c.step) continue;  // the input (or a view of it) is read later
    out.inplace_parent[child] = parent;
  }
  ks.key = std::move(key);
  ks.steps = std::move(steps_);
  ks.dynamic = std::move(dynamic_);
  return r;
}

}  // namespace r1
