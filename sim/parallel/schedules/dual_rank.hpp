#pragma once
// The op list of one rank of DualPipe or DualPipeV: both run the same eight
// phases (DeepSeek's dualpipe.py and dualpipev.py) with other counts.
#include <functional>
#include <vector>

#include "sim/parallel/schedule.hpp"

namespace trainsim::schedules {

// A rank holds two chunks, "phase 0" and "phase 1"; chunk(phase, i) is the i-th
// micro-batch that passes through that chunk (forwards and backwards both visit
// a chunk's micro-batches in order). q is the number of ranks in one arm of the
// pipeline (DualPipe: pp/2, DualPipeV: pp), h the rank's position along the arm
// (DualPipe: min(r, pp-1-r), DualPipeV: r), per_phase the micro-batches per
// chunk (DualPipe: N/2, DualPipeV: N).
void build_dual_rank(std::vector<PipelineOp>& ops, int q, int h, int per_phase,
                     const std::function<ChunkRef(int, int)>& chunk);

}  // namespace trainsim::schedules
