#include "r1/runtime/graph_capture.h"

namespace r1 {

int GraphCapture::graphs() const {
  std::lock_guard<std::mutex> lk(mu_);
  int n = 0;
  for (const auto& kv : runs_) n += kv.second != nullptr;
  return n;
}

std::shared_ptr<CapturedRun> GraphCapture::find_or_record(const std::vector<int64_t>& key,
                                                          const std::shared_ptr<Plan>& plan,
                                                          const std::vector<Tensor>& inputs, const RecordFn& record) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = runs_.find(key);
  if (it != runs_.end()) return it->second;
  auto run = std::make_shared<CapturedRun>();
  run->plan = plan;
  run->arena = plan->checkout(device_.allocator());
  for (const Tensor& t : inputs) run->inputs.push_back(copy_tensor(device_, device_.allocator(), t));
  try {
    run->work = device_.capture([&](Allocator& a) { run->outputs = record(run->inputs, run->arena, a); });
  } catch (const Error&) {
    run->work.reset();  // the eager path reports any real error of this run
  }
  if (!run->work) {
    plan->checkin(std::move(run->arena));
    run.reset();
  }
  runs_[key] = run;
  return run;
}

std::vector<Tensor> GraphCapture::replay(CapturedRun& run, const std::vector<Tensor>& inputs) {
  std::lock_guard<std::mutex> lk(run.mu);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    if (t.nbytes())
      device_.copy(*t.buffer(), t.byte_offset(), *run.inputs[i].buffer(), run.inputs[i].byte_offset(), t.nbytes(),
                   nullptr);
  }
  run.work->replay();
  std::vector<Tensor> outs;
  outs.reserve(run.outputs.size());
  for (const Tensor& t : run.outputs) {
    // Device results come back after the replay (same stream); host ones (shape arithmetic run at
    // capture time) are copied too, so a caller writing into an output cannot change later replays.
    const bool constant = t.buffer() && !t.buffer()->writable();
    outs.push_back(t.buffer() && !constant ? copy_tensor(device_, cpu_.allocator(), t) : t);
  }
  ++replays_;
  return outs;
}

}  // namespace r1
