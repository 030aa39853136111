#pragma once
// Stage partition: the contiguous split of a model's layers into pipeline
// stages that minimises the largest compute a pipeline RANK holds (the slowest
// rank sets the pipeline's pace). With one stage per rank that is the largest
// stage; where a rank holds several stages (DualPipe: stages r and pp-1-r;
// DualPipeV: r and 2pp-1-r; interleaved: r, r+pp, ...) it is the sum of them.
#include <vector>

namespace trainsim::step {

// stages_of_rank[r]: the stages rank r runs. A stage may be listed under more
// than one rank (DualPipe runs stage s on rank s for half the micro-batches and
// on rank pp-1-s for the other half); every rank is assumed to run each of its
// stages for the same number of micro-batches, so its load is the plain sum.
using StagesOfRank = std::vector<std::vector<int>>;

// One stage per rank: stage s on rank s.
[[nodiscard]] StagesOfRank one_stage_per_rank(int stages);

// The compute of each rank under `split` (stage → layer indices): the sum of
// the costs of the layers of the stages it runs.
[[nodiscard]] std::vector<double> rank_loads(const std::vector<double>& layer_seconds,
                                             const std::vector<std::vector<int>>& split,
                                             const StagesOfRank& stages_of_rank);

// Splits layers 0..n-1 with costs `layer_seconds` (>= 0) into `stages`
// contiguous, non-empty stages (stages <= n) minimising the largest rank load
// exactly where each rank runs one stage or a mirrored pair {s, stages-1-s}
// (1F1B, GPipe, ZB-H1, naive, DualPipe, DualPipeV); then, among those optima,
// the sum of squared stage costs. Where each stage has one rank and a rank
// runs several (interleaved) the largest rank load is minimised by a search
// that is not proven exact (at least as good as the per-stage optimum; within
// one layer of the optimum on the cases tested); any other map gets the
// per-stage optimum. Every stage must be run by some rank. Returns the layer indices of
// each stage. With one stage per rank, on a tie, working back from the last
// stage, each stage starts as early as the optimum allows.
[[nodiscard]] std::vector<std::vector<int>> partition_layers(const std::vector<double>& layer_seconds, int stages,
                                                             const StagesOfRank& stages_of_rank);

// The same with one stage per rank.
[[nodiscard]] std::vector<std::vector<int>> partition_layers(const std::vector<double>& layer_seconds, int stages);

}  // namespace trainsim::step
