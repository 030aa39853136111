// The eight phases of DeepSeek's DualPipe (dualpipe.py, DualPipe.step) for one
// rank. Input-only backwards ("zero bubble") push their W on a FIFO queue popped
// by the W steps, as WeightGradStore does.
#include "sim/parallel/schedules/dual_rank.hpp"

#include <deque>
#include <stdexcept>

#include "sim/parallel/schedules/common.hpp"

namespace trainsim::schedules {

void build_dual_rank(std::vector<PipelineOp>& ops, int q, int h, int per_phase,
                     const std::function<ChunkRef(int, int)>& chunk) {
  int next_f[2] = {0, 0};
  int next_b[2] = {0, 0};
  std::deque<ChunkRef> pending_w;
  auto fwd = [&](int phase) { return chunk(phase, next_f[phase]++); };
  auto bwd = [&](int phase) { return chunk(phase, next_b[phase]++); };
  auto forward = [&](int phase) { ops.push_back(op_f(fwd(phase))); };
  auto backward = [&](int phase, bool zero_bubble) {
    const ChunkRef c = bwd(phase);
    ops.push_back(op_b(zero_bubble ? PassKind::B : PassKind::BW, c));
    if (zero_bubble) pending_w.push_back(c);
  };
  auto weight = [&] {
    if (pending_w.empty()) throw std::logic_error("dualpipe: W step with no pending weight gradient");
    ops.push_back(op_b(PassKind::W, pending_w.front()));
    pending_w.pop_front();
  };
  auto overlapped = [&](int f_phase, int b_phase) {
    const ChunkRef f = fwd(f_phase);
    const ChunkRef b = bwd(b_phase);
    ops.push_back(op_fb(f, b));
  };

  // 1: nF0
  for (int i = 0; i < (q - h - 1) * 2; ++i) forward(0);
  // 2: n(F0 F1)
  for (int i = 0; i < h + 1; ++i) {
    forward(0);
    forward(1);
  }
  // 3: n(B1 W1 F1), zero bubble
  for (int i = 0; i < q - h - 1; ++i) {
    backward(1, true);
    weight();
    forward(1);
  }
  // 4: main loop, n(F0&B1, F1&B0). The rank at the turn of the pipeline
  // (h = q-1) runs its first F0 and B1 apart: dualpipe.py does not overlap them
  // "to further reduce bubble size".
  const int main_steps = per_phase - 2 * q + h + 1;
  for (int i = 0; i < main_steps; ++i) {
    if (i == 0 && h == q - 1) {
      forward(0);
      backward(1, false);
    } else {
      overlapped(0, 1);
    }
    overlapped(1, 0);
  }
  // 5: n(B1, F1&B0)
  for (int i = 0; i < q - h - 1; ++i) {
    backward(1, false);
    overlapped(1, 0);
  }
  // 6: n(B1 B0), switching to zero bubble halfway
  const int steps6 = h + 1;
  bool zero_bubble = false;
  for (int i = 0; i < steps6; ++i) {
    if (i == steps6 / 2 && h % 2 == 1) zero_bubble = true;
    backward(1, zero_bubble);
    if (i == steps6 / 2 && h % 2 == 0) zero_bubble = true;
    backward(0, zero_bubble);
  }
  // 7: n(W B0), zero bubble
  for (int i = 0; i < q - h - 1; ++i) {
    weight();
    backward(0, true);
  }
  // 8: nW
  for (int i = 0; i < h + 1; ++i) weight();
  if (!pending_w.empty()) throw std::logic_error("dualpipe: weight gradients left over");
}

}  // namespace trainsim::schedules
