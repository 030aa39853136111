#pragma once
// Stage partition: the contiguous split of a model's layers into pipeline
// stages that minimises the largest stage's cost (the pipeline's slowest stage
// sets its pace).
#include <vector>

namespace trainsim::step {

// Splits layers 0..n-1 with costs `layer_seconds` into `stages` contiguous,
// non-empty stages (stages <= n) minimising the largest stage's sum. On a tie,
// working back from the last stage, each stage starts as early as the optimum
// allows. Returns the layer indices of each stage.
[[nodiscard]] std::vector<std::vector<int>> partition_layers(const std::vector<double>& layer_seconds, int stages);

}  // namespace trainsim::step
