// Task primitives of the step program (see step_tasks.hpp).
#include "sim/parallel/step_tasks.hpp"

#include <utility>

namespace trainsim::step {

int add_task(StepBuild& b, StepTask task, const std::vector<int>& deps) {
  const int id = static_cast<int>(b.draft.add_task(std::move(task)));
  for (int d : deps)
    if (d != kNone) b.draft.add_edge(static_cast<std::size_t>(d), static_cast<std::size_t>(id));
  return id;
}

int add_compute(StepBuild& b, int r, int d, Stream stream, Category cat, const std::string& name, double seconds,
                double flops, std::vector<int> deps) {
  return add_compute(b, r, d, stream, cat, name, TaskSeconds{seconds, seconds}, flops, std::move(deps));
}

int add_compute(StepBuild& b, int r, int d, Stream stream, Category cat, const std::string& name,
                TaskSeconds seconds, double flops, std::vector<int> deps) {
  const int gpu = gpu_of(b.p, r, d, 0);
  int& last = b.last[gpu][static_cast<int>(stream)];
  deps.push_back(last);
  if (!b.zero.compute_gate.empty()) {  // ZeRO-3: the layer's parameters must be gathered first
    auto& gate = b.zero.compute_gate[static_cast<std::size_t>(gpu)];
    deps.insert(deps.end(), gate.begin(), gate.end());
    gate.clear();
  }
  StepTask t;
  t.name = name;
  t.category = cat;
  t.gpu = gpu;
  t.stream = stream;
  // A straggler computes at its speed fraction (communication is not slowed: assumption).
  const double speed = b.speeds.by_gpu.empty() ? 1.0 : b.speeds.by_gpu[static_cast<std::size_t>(gpu)];
  t.seconds = seconds.all_sms / speed;
  t.seconds_sm_shared = seconds.sm_shared / speed;
  t.model_flops = flops;
  t.pass = cat == Category::optimizer ? TaskPass::optimizer : b.pass;
  t.pipeline_op = b.pipeline_op;
  last = add_task(b, std::move(t), deps);
  return last;
}

int add_collective(StepBuild& b, const parallel::CollectivePlan& plan, Category cat, const std::string& name,
                   int owner_gpu, std::vector<int> deps, Stream stream) {
  int prev = kNone;
  for (std::size_t ph = 0; ph < plan.phases.size(); ++ph) {
    auto transfers = keep_transfers(b.reps, plan.phases[ph].transfers);
    if (transfers.empty()) continue;
    StepTask t;
    t.name = plan.phases.size() > 1 ? name + " #" + std::to_string(ph) : name;
    t.category = cat;
    t.gpu = owner_gpu;
    t.stream = stream;
    t.transfers = std::move(transfers);
    t.pass = b.pass;
    t.pipeline_op = b.pipeline_op;
    std::vector<int> d = prev == kNone ? deps : std::vector<int>{prev};
    prev = add_task(b, std::move(t), d);
  }
  return prev;
}

}  // namespace trainsim::step
