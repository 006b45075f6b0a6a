#include "r1/runtime/executor_state.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "r1/backend/registry.h"
#include "r1/ir/op_registry.h"

namespace r1 {

// Checks a Scratch out for one run (concurrent runs each get their own) and back in afterwards.
class Executor::ScratchLease {
 public:
  ScratchLease(Executor& ex, size_t num_values, size_t lanes) : ex_(ex) {
    {
      std::lock_guard<std::mutex> lk(ex_.scratch_mu_);
      if (!ex_.free_scratch_.empty()) {
        sc_ = std::move(ex_.free_scratch_.back());
        ex_.free_scratch_.pop_back();
      }
    }
    if (!sc_) sc_ = std::make_unique<Scratch>();
    sc_->env.resize(num_values);
    if (ex_.hetero_) sc_->alt.resize(num_values);  // CPU executors never copy across: alt stays empty
    sc_->lanes.resize(lanes);
  }
  ~ScratchLease() {
    for (Tensor& t : sc_->env) t = Tensor();  // intermediates and arena views die with the run
    for (Tensor& t : sc_->alt) t = Tensor();
    for (Lane& l : sc_->lanes)
      for (Tensor& t : l.outs) t = Tensor();
    std::lock_guard<std::mutex> lk(ex_.scratch_mu_);
    ex_.free_scratch_.push_back(std::move(sc_));
  }
  Scratch& get() { return *sc_; }

 private:
  Executor& ex_;
  std::unique_ptr<Scratch> sc_;
};

namespace {
// Holds a plan's arena for one run; returns it to the plan's free list at the end.
struct ArenaLease {
  std::shared_ptr<Plan> plan;
  std::shared_ptr<Buffer> buffer;
  ~ArenaLease() {
    if (plan && buffer) plan->checkin(std::move(buffer));
  }
};
}  // namespace

namespace {
Device& cpu_for(Device& device) {
  return device.kind() == DeviceKind::CPU ? device : BackendRegistry::instance().device("cpu");
}
}  // namespace

Executor::Executor(std::shared_ptr<const Graph> graph, Device& device, int num_threads)
    : Executor(graph, device, std::make_shared<ThreadPool>(num_threads), place_steps(*graph, device, cpu_for(device)),
               nullptr) {}

Executor::Executor(std::shared_ptr<const Graph> graph, Device& device, int num_threads, const Tiering* tiering)
    : Executor(graph, device, std::make_shared<ThreadPool>(num_threads), place_steps(*graph, device, cpu_for(device)),
               tiering) {}

Executor::Executor(std::shared_ptr<const Graph> graph, Device& device, std::shared_ptr<ThreadPool> pool)
    : Executor(graph, device, pool, place_steps(*graph, device, cpu_for(device)), nullptr) {}

Executor::Executor(std::shared_ptr<const Graph> graph, Device& device, std::shared_ptr<ThreadPool> pool,
                   const Placement& places, const Tiering* tiering)
    : graph_(std::move(graph)),
      device_(device),
      cpu_(cpu_for(device)),
      hetero_(device.kind() != DeviceKind::CPU),
      residency_(device_, cpu_),
      capture_(device_, cpu_, hetero_ ? capture_obstacle(*graph_, places) : "graph capture needs a GPU device"),
      pool_(std::move(pool)) {
  last_reader_.assign(graph_->values().size(), -1);
  size_t i = 0;
  for (auto& n : graph_->nodes()) {
    // Control-flow steps run on the CPU (no device has kernels for them): so do their subgraphs.
    if (!subgraphs_ && !subgraphs_of(*n).empty()) subgraphs_ = std::make_unique<SubgraphExecutors>(cpu_, pool_);
    steps_.push_back({n.get(), places.steps[i].kernel, {}, places.steps[i]});
    ++i;
    for (const Value* in : n->inputs)
      if (in) last_reader_[in->id] = static_cast<int>(steps_.size()) - 1;
  }
  for (auto& v : graph_->values()) {
    const int s = last_reader_[v->id];
    if (s >= 0 && !v->is_graph_output && !v->is_constant()) steps_[s].release.push_back(v->id);
  }
  out_base_ = output_bases(*graph_);
  if (tiering) {
    std::vector<const Node*> order;
    std::vector<char> metadata_only;
    for (const Step& st : steps_) {
      order.push_back(st.node);
      metadata_only.push_back(st.place.metadata_only);
    }
    // Weights a GPU reads stream onto it; those CPU steps read stay in host memory.
    Device& target = device_;
    streamer_ = std::make_unique<WeightStreamer>(*graph_, order, metadata_only, target, tiering->device_pool,
                                                 tiering->host_pool, tiering->options, &trace_);
    if (!hetero_) {
      spiller_ = std::make_unique<ActivationSpiller>(tiering->options.offload_dir, tiering->device_pool, &trace_);
      readers_.assign(graph_->values().size(), {});
      for (size_t st = 0; st < steps_.size(); ++st)
        for (const Value* v : steps_[st].node->inputs)
          if (v && (readers_[v->id].empty() || readers_[v->id].back() != static_cast<int>(st)))
            readers_[v->id].push_back(static_cast<int>(st));
    }
  }
  // GPU kernels queue on one stream: running their launches side by side would gain nothing.
  groups_ = group_steps(*graph_, hetero_ ? 1 : pool_->num_threads());
  group_spans(groups_, steps_.size(), &group_lo_, &group_hi_);
  for (const StepGroup& g : groups_) max_group_ = std::max(max_group_, g.size);
  prof_ns_ = std::make_unique<std::atomic<int64_t>[]>(steps_.size());
  prof_calls_ = std::make_unique<std::atomic<int64_t>[]>(steps_.size());
  reset_profile();
  if (hetero_)
    residency_.upload_constants(*graph_, places, [this](const Value* v) { return streamer_ && streamer_->manages(v); });
}

std::shared_ptr<CapturedRun> Executor::captured_for(Scratch& sc, const PlanCache::Found& found,
                                                    const std::vector<Tensor>& inputs) {
  auto record = [&](const std::vector<Tensor>& dev_inputs, const std::shared_ptr<Buffer>& arena, Allocator& alloc) {
    const auto& gin = graph_->inputs();
    for (size_t i = 0; i < dev_inputs.size(); ++i) sc.env[gin[i]->id] = dev_inputs[i];
    RunCtx rc;
    rc.plan = found.plan.get();
    rc.shapes = found.shapes.get();
    rc.arena = &arena;
    rc.capturing = true;
    rc.device_alloc = &alloc;
    for (size_t s = 0; s < steps_.size(); ++s) run_step(s, sc, sc.lanes[0], rc, true);
    R1_CHECK(!rc.diverged.load(), DeviceError) << "the kernels contradicted the plan's shapes";
    std::vector<Tensor> outs;
    for (const Value* v : graph_->outputs()) outs.push_back(v->is_constant() ? v->constant : sc.env[v->id]);
    return outs;
  };
  std::shared_ptr<CapturedRun> run = capture_.find_or_record(sc.key, found.plan, inputs, record);
  for (Tensor& t : sc.env) t = Tensor();  // a recording leaves nothing behind in the run's scratch
  for (Tensor& t : sc.alt) t = Tensor();
  return run;
}

int Executor::device_steps() const {
  int n = 0;
  for (const Step& st : steps_) n += hetero_ ? st.place.on_device : 1;
  return n;
}

std::vector<std::pair<const Node*, bool>> Executor::step_devices() const {
  std::vector<std::pair<const Node*, bool>> out;
  for (const Step& st : steps_) out.emplace_back(st.node, !hetero_ || st.place.on_device);
  return out;
}

void Executor::reset_profile() {
  for (size_t s = 0; s < steps_.size(); ++s) {
    prof_ns_[s] = 0;
    prof_calls_[s] = 0;
  }
}

std::vector<Executor::StepProfile> Executor::step_profile() const {
  std::vector<StepProfile> out;
  out.reserve(steps_.size());
  for (size_t s = 0; s < steps_.size(); ++s) out.push_back({steps_[s].node, prof_ns_[s].load(), prof_calls_[s].load()});
  return out;
}

int Executor::parallel_groups() const {
  int n = 0;
  for (const StepGroup& g : groups_) n += g.size > 1;
  return n;
}

Executor::~Executor() = default;

PlanCache::Stats Executor::memory_stats() const {
  PlanCache::Stats s = cache_.stats();
  s.planned_allocations = planned_allocations_.load();
  return s;
}

Tensor Executor::copy_out(const Tensor& t) const { return copy_tensor(device_, device_.allocator(), t); }

void Executor::run_step(size_t s, Scratch& sc, Lane& lane, RunCtx& rc, bool release) {
  const Step& step = steps_[s];
  const Node& n = *step.node;
  lane.ins.clear();
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    const Value* v = n.inputs[i];
    const Tensor* t = nullptr;
    if (v) {
      if (v->is_constant())
        t = streamer_ && streamer_->manages(v) ? &streamer_->acquire(static_cast<int>(s), v) : &v->constant;
      else
        t = &sc.env[v->id];
      R1_CHECK(t->defined(), InternalError) << "node " << n.label() << ": input '" << v->name << "' was not computed";
      if (hetero_ && !step.place.metadata_only) {
        const bool want_device = step.place.input_on_device(i);
        t = residency_.resident(v, t, want_device, sc.alt, rc.device_alloc);
        // A kernel handed memory of the wrong side would read garbage or fault: refuse instead.
        R1_CHECK(!t->buffer() || (t->buffer()->kind() == MemoryKind::Device) == want_device, InternalError)
            << "node " << n.label() << ": input '" << v->name << "' is in " << memory_kind_name(t->buffer()->kind())
            << " memory but the kernel reads it on the " << (want_device ? device_.name() : std::string("cpu"));
      }
    }
    lane.ins.push_back(t);
  }
  const size_t nout = n.outputs.size();
  // Planned shapes stand in for inference on an exact key hit, except where shapes depend on data.
  const bool planned_shapes = rc.shapes && !rc.shapes->dynamic[s] && !rc.diverged.load(std::memory_order_relaxed);
  const StepShapes* shp = planned_shapes ? &rc.shapes->steps[s] : &lane.inferred;
  if (!planned_shapes) {
    std::vector<InferContext::InputInfo> infos(n.inputs.size());
    for (size_t i = 0; i < n.inputs.size(); ++i)
      if (lane.ins[i]) {
        // Inference reads values on the host (shape inputs); device memory it sees only the shape of.
        const Tensor* t = lane.ins[i];
        const bool readable = !hetero_ || !t->buffer() || host_accessible(t->buffer()->kind());
        infos[i] = {t->dtype(), &t->shape(), readable ? t : nullptr};
      }
    InferContext ictx(n, std::move(infos));
    try {
      run_infer(ictx);
    } catch (const InferContext::ShapeUnknown&) {  // (every shape is known at run time: a schema's bug)
      throw InternalError("node " + n.label() + ": shape inference asked for a shape it has at run time");
    }
    StepShapes& inf = lane.inferred;
    inf.dtypes.resize(nout);
    inf.shapes.resize(nout);
    inf.known.resize(nout);
    for (size_t i = 0; i < nout; ++i) {
      inf.dtypes[i] = ictx.output_dtype(i);
      inf.shapes[i] = ictx.output_shape(i);
      inf.known[i] = ictx.output_shape_known(i);
    }
  }
  lane.outs.clear();
  lane.outs.resize(nout);
  // The arena is the device's memory: CPU steps of a GPU executor allocate their (small) outputs.
  const bool in_arena = rc.plan && (!hetero_ || step.place.on_device);
  if (in_arena) place_outputs(s, lane, rc, shp->dtypes, shp->shapes, shp->known);
  Allocator& alloc =
      !hetero_ || step.place.on_device ? (rc.device_alloc ? *rc.device_alloc : device_allocator()) : cpu_.allocator();
  KernelContext kctx(n, std::move(lane.ins), &lane.outs, &shp->dtypes, &shp->shapes, &shp->known, alloc, *pool_);
  if (in_arena) kctx.set_placements(lane.placements.data());
  kctx.set_subgraphs(subgraphs_.get());
  const bool traced = trace_.enabled();
  const bool prof = profiling_.load(std::memory_order_relaxed) || traced;
  const auto t0 = prof ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  try {
    step.kernel(kctx);
  } catch (const InputError& e) {
    throw InputError("node " + n.label() + ": " + e.what());
  } catch (const ModelError& e) {
    throw ModelError("node " + n.label() + ": " + e.what());
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw DeviceError("node " + n.label() + ": out of memory");
  } catch (const std::exception& e) {
    // Anything else from a kernel is our bug; say where it happened.
    throw InternalError("node " + n.label() + ": " + e.what());
  }
  if (prof) {
    const auto t1 = std::chrono::steady_clock::now();
    if (traced) trace_.add(TraceSink::Compute, n.label(), t0, t1);
    if (profiling_.load(std::memory_order_relaxed)) {
      prof_ns_[s] += std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
      prof_calls_[s] += 1;
    }
  }
  for (size_t i = 0; i < nout; ++i)
    if (n.outputs[i] && !lane.outs[i].defined()) kctx.output(i);  // a kernel that wrote nothing still yields a tensor
  lane.ins = kctx.take_inputs();
  if (rc.rec)
    rc.rec->record_step(s, n, lane.ins, lane.outs, kctx.allocated_mask(), shp->dtypes, shp->shapes, shp->known,
                        step.place.inplace_inputs);
  if (rc.plan)
    check_outputs(s, lane, rc, planned_shapes, in_arena ? kctx.allocated_mask() : 0, shp->dtypes, shp->shapes);
  for (size_t i = 0; i < nout; ++i)
    if (n.outputs[i]) sc.env[n.outputs[i]->id] = std::move(lane.outs[i]);
  if (release)
    for (int id : step.release) {
      sc.env[id] = Tensor();
      if (hetero_) sc.alt[id] = Tensor();
    }
  if (streamer_) streamer_->finished(static_cast<int>(s));
}

void Executor::run_group(const StepGroup& g, Scratch& sc, RunCtx& rc) {
  if (g.size == 1) {
    run_step(static_cast<size_t>(g.first), sc, sc.lanes[0], rc, true);
    return;
  }
  // Tiered: the steps run side by side only when all the group's weights are in memory already (a compute-
  // bound run); otherwise one by one, each as soon as its own weights are (waiting for all of them first would
  // leave the compute idle behind the reads).
  if (streamer_) {
    bool ready = true;
    for (int s = g.first; s < g.first + g.size && ready; ++s)
      for (const Value* v : steps_[s].node->inputs)
        if (v && v->is_constant() && streamer_->manages(v) && !streamer_->ready(v)) ready = false;
    if (!ready) {
      for (int s = g.first; s < g.first + g.size; ++s) run_step(static_cast<size_t>(s), sc, sc.lanes[0], rc, true);
      return;
    }
  }
  // One step per chunk: each thread runs whole steps, kernels inside run serially (nested
  // parallel_for), and step i always uses lane i. The first exception propagates.
  // Releases wait for the whole group: a sibling may still be reading a value whose last reader
  // (by step index) has finished.
  pool_->parallel_for(0, g.size, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) run_step(static_cast<size_t>(g.first + i), sc, sc.lanes[i], rc, false);
  });
  for (int s = g.first; s < g.first + g.size; ++s)
    for (int id : steps_[s].release) sc.env[id] = Tensor();
}

namespace {
// A weights file changed in place under its mapping (core/backing_file.h): refuse to start a run, and
// refuse to return what a run computed while it happened.
void check_backing(const Graph& g) {
  for (const auto& f : g.backings()) {
    std::string why = f->changed();
    R1_CHECK(why.empty(), ModelError) << why;
  }
}
}  // namespace

std::vector<Tensor> Executor::run(const std::vector<Tensor>& inputs) {
  check_backing(*graph_);
  std::vector<Tensor> outs;
  try {
    outs = run_unchecked(inputs);
  } catch (const Error&) {
    // A kernel that tripped over weights read from a file changed under the run: the change is the error.
    check_backing(*graph_);
    throw;
  }
  check_backing(*graph_);
  return outs;
}

std::vector<Tensor> Executor::run_unchecked(const std::vector<Tensor>& inputs) {
  std::unique_lock<std::mutex> tiered;
  if (streamer_) tiered = std::unique_lock<std::mutex>(tier_mu_);
  ScratchLease lease(*this, graph_->values().size(), static_cast<size_t>(max_group_));
  Scratch& sc = lease.get();
  check_inputs(*graph_, inputs, &sc.bound);
  RunCtx rc;
  ArenaLease arena;
  PlanCache::Found found;
  std::unique_ptr<PlanRecorder> rec;
  if (planning_) {
    shape_key(inputs, &sc.key);
    bucket_of(sc.key, &sc.bucket);
    found = cache_.find(sc.key, sc.bucket);
    // A key planned before, whose shapes the plan fixes everywhere: replay its graph.
    if (graph_capture_ && !streamer_ && capture_.possible() && found.plan && found.shapes &&
        std::none_of(found.shapes->dynamic.begin(), found.shapes->dynamic.end(), [](char d) { return d != 0; })) {
      if (std::shared_ptr<CapturedRun> cap = captured_for(sc, found, inputs)) return capture_.replay(*cap, inputs);
    }
    // A new key recording in a layout that spills would need its spills too: it records on its own instead.
    if (found.plan && (found.shapes || !found.plan->has_spills())) {
      arena.plan = found.plan;
      arena.buffer = found.plan->checkout(device_allocator());
      rc.plan = found.plan.get();
      rc.arena = &arena.buffer;
    }
    rc.shapes = found.shapes.get();
    // No plan for this exact key: record one (placing outputs in the bucket's arena meanwhile).
    if (!rc.shapes) rec = std::make_unique<PlanRecorder>(*graph_, last_reader_, rc.plan, arena.buffer.get());
    rc.rec = rec.get();
  }
  for (size_t i = 0; i < inputs.size(); ++i) sc.env[graph_->inputs()[i]->id] = inputs[i];
  // A run that records a plan (or runs without one) has no known activation peak: it streams every weight.
  WeightStreamer::RunGuard streaming(streamer_.get(), !rc.shapes || !rc.plan, rc.plan ? rc.plan->arena_bytes() : 0);
  // Groups run concurrently only on runs that follow a plan: a recording run watches steps one
  // at a time, and without planning the inferred shapes are the reference path.
  std::unique_ptr<SpillRun> spill;  // (after the arena lease: its copies finish before the arena goes back)
  if (spiller_ && rc.plan && rc.plan->has_spills())
    spill = std::make_unique<SpillRun>(*spiller_, *graph_, *rc.plan, arena.buffer, sc.env);
  std::unique_ptr<RecordingSpill> let_go;  // a recording run without a layout: every value an allocation
  if (spiller_ && rc.rec && !rc.plan)
    let_go = std::make_unique<RecordingSpill>(*spiller_, *graph_, readers_, streamer_->activation_allocator(),
                                              streamer_->activation_room(SpillFile::kChunk), sc.env);
  if (spill || let_go) {
    for (size_t s = 0; s < steps_.size(); ++s) {
      if (spill) spill->before(static_cast<int>(s));
      if (let_go) let_go->before(static_cast<int>(s));
      run_step(s, sc, sc.lanes[0], rc, true);
      if (spill) spill->after(static_cast<int>(s));
      if (let_go) let_go->after(static_cast<int>(s));
    }
  } else if (inter_op_ && max_group_ > 1 && rc.plan && !rc.rec) {
    for (const StepGroup& g : groups_) run_group(g, sc, rc);
  } else {
    for (size_t s = 0; s < steps_.size(); ++s) run_step(s, sc, sc.lanes[0], rc, true);
  }
  std::vector<Tensor> outs;
  outs.reserve(graph_->outputs().size());
  for (const Value* v : graph_->outputs()) {
    outs.push_back(v->is_constant() ? v->constant : sc.env[v->id]);
    // Callers get host memory (numpy views it): device results come back here, in stream order.
    if (hetero_ && outs.back().buffer() && outs.back().buffer()->kind() == MemoryKind::Device) {
      outs.back() = copy_tensor(device_, cpu_.allocator(), outs.back());
      continue;
    }
    // The caller keeps outputs past the next run, which reuses the arena (the plan keeps graph
    // outputs out of it; this only catches a kernel that surprised it).
    if (rc.arena && outs.back().buffer() == *rc.arena) outs.back() = copy_out(outs.back());
  }
  if (rec) {
    PlanRecorder::Result r = rec->finish(sc.key);
    widen_to_groups(r.structure);
    // Under a budget the arena gets what the largest step's weights and this run's outputs leave.
    size_t limit = SIZE_MAX;
    if (spiller_) {
      size_t out_bytes = 0;
      for (const Tensor& t : outs) out_bytes += t.nbytes();
      limit = streamer_->activation_room(out_bytes + SpillFile::kChunk);  // (and the spiller's bounce buffer)
    }
    cache_.add(*graph_, std::move(r), sc.bucket, found.plan, limit);
  }
  return outs;
}

}  // namespace r1
