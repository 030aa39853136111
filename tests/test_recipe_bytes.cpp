// The byte expressions of the FP8 family (issue 13): each kernel's bytes are those of
// the tensor its grid in the shipped trace says it touches, hand-computed here.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "sim/calibrate/cost_laws.hpp"
#include "sim/calibrate/kernel_classes.hpp"
#include "sim/calibrate/recipes.hpp"
#include "sim/config/load.hpp"
#include "sim/model/cost_model.hpp"

namespace test_recipe_bytes {

using namespace trainsim;
using namespace trainsim::calibrate;

const std::string kRoot = TRAINSIM_SOURCE_DIR;

struct Expanded {
  std::vector<PlannedKernel> planned;
  Expanded() {
    const KernelClassTable classes = load_kernel_classes(kRoot + "/topologies/calibration/kernel-classes.yaml");
    const CostLawTable laws = load_cost_laws(kRoot + "/topologies/calibration/laws-h800.yaml", classes);
    const RecipeSet recipes = load_recipes(kRoot + "/topologies/calibration/recipes-fp8-moe.yaml", laws);
    const WorkloadSpec workload = load_workload(kRoot + "/workloads/deepseek-v3.yaml", {});
    const ModelCost cost = model_cost(workload);
    const LayerCost* moe = nullptr;
    for (const LayerCost& l : cost.layers)
      if (l.kind == LayerKind::moe && moe == nullptr) moe = &l;
    REQUIRE(moe != nullptr);
    planned = expand_recipes(recipes, *moe, workload, RoutedRows{32512, 32128});
  }
  // The bytes of the kernels of one op-pass and class within a phase, in order.
  [[nodiscard]] std::vector<double> bytes(const std::string& phase, const std::string& op, OpPass pass,
                                          const std::string& class_name) const {
    std::vector<double> out;
    for (const PlannedKernel& k : planned)
      if (k.phase == phase && k.op == op && k.pass == pass && k.class_name == class_name) out.push_back(k.shape.bytes);
    return out;
  }
};

TEST_CASE("recipe bytes: FP8 weight transposes move the weight, not the activations", "[recipes][bytes]") {
  const Expanded e;
  // batched_transpose grid 7168 = o_proj's 7168 x 16384 weight in 128x128 tiles: FP8 read + written.
  CHECK(e.bytes("attn(B)", "attn.o_proj", OpPass::backward_input, "fp8_transpose") == std::vector<double>{2.0 * 7168 * 16384});
  CHECK(e.bytes("attn(B)", "attn.q_up", OpPass::backward_input, "fp8_transpose") == std::vector<double>{2.0 * 24576 * 1536});
  CHECK(e.bytes("attn(B)", "attn.kv_up", OpPass::backward_input, "fp8_transpose") == std::vector<double>{2.0 * 32768 * 512});
  // The 4 local experts' weights (256 experts / EP 64): grids 7168 and 3584.
  CHECK(e.bytes("mlp(F)", "moe.routed.gate_up", OpPass::forward, "fp8_transpose") == std::vector<double>{2.0 * 4 * 4096 * 7168});
  CHECK(e.bytes("mlp(F)", "moe.routed.down", OpPass::forward, "fp8_transpose") == std::vector<double>{2.0 * 4 * 7168 * 2048});
  CHECK(e.bytes("mlp(B)", "moe.shared.down", OpPass::backward_input, "fp8_transpose") == std::vector<double>{2.0 * 7168 * 2048});
}

TEST_CASE("recipe bytes: casts, cast-backs and cast-transposes of the tensors their grids name", "[recipes][bytes]") {
  const Expanded e;
  struct Expected {
    const char *phase, *op;
    OpPass pass;
    const char* class_name;
    std::vector<double> bytes;
  };
  const OpPass B = OpPass::backward_input;
  const std::vector<Expected> table{
      // per_channel_cast_and_transpose grid (cols/128, rows/128): o_proj's input 4096 x 16384 and dY 4096 x 7168
      {"attn(B)", "attn.o_proj", B, "fp8_cast_transpose", {3.0 * 4096 * 16384, 3.0 * 4096 * 7168}},
      // q_up's dQ (4096 x 24576) and input (4096 x 1536) for its W, launched after kv_up's dgrad
      {"attn(B)", "attn.q_up", B, "fp8_cast_transpose", {3.0 * 4096 * 24576, 3.0 * 4096 * 1536}},
      // the routed rows: mlp(W)'s dY (rows x 7168); mlp(B)'s SwiGLU output (rows x 2048) and dH (rows x 4096)
      {"mlp(W)", "moe.routed.down", OpPass::backward_weight, "fp8_cast_transpose", {3.0 * 32128 * 7168}},
      {"mlp(B)", "moe.routed.down", B, "fp8_cast_transpose", {3.0 * 32128 * 2048}},
      {"mlp(B)", "moe.routed.gate_up", B, "fp8_cast_transpose", {3.0 * 32128 * 4096}},
      // cast back of the FP8 SwiGLU-input caches: rows x 2·intermediate
      {"mlp(B)", "moe.routed.down", B, "fp8_cast_back", {3.0 * 32128 * 4096}},
      {"mlp(B)", "moe.shared.down", B, "fp8_cast_back", {3.0 * 4096 * 4096}},
      // the routed dH cast for the data gradient: rows x 4096, grid = rows
      {"mlp(B)", "moe.routed.gate_up", B, "fp8_quantize_cast_transpose", {3.0 * 32128 * 4096}},
      // E5M6 cache of the attention output and its cast back
      {"attn(F)", "attn.o_proj", OpPass::forward, "fp8_special_format", {3.0 * 4096 * 16384}},
      {"attn(B)", "attn.o_proj", B, "fp8_special_format", {3.0 * 4096 * 16384}},
      // norms: x read, y written (BF16), gamma read, for every width; finalize: FP32 partials of the ln_bwd blocks
      {"attn(F)", "attn.norm", OpPass::forward, "norm", {4.0 * 4096 * 7168 + 2.0 * 7168}},
      {"attn(B)", "attn.norm", OpPass::backward_weight, "norm_finalize", {132.0 * 7168 * 8 + 7168 * 4}},
  };
  for (const Expected& x : table) {
    INFO(x.phase << " " << x.op << " " << x.class_name);
    CHECK(e.bytes(x.phase, x.op, x.pass, x.class_name) == x.bytes);
  }
}

TEST_CASE("recipe bytes: router copies and memsets as the trace's bytes args, the MoE reduce over the routed rows", "[recipes][bytes]") {
  const Expanded e;
  // Memcpy DtoD of 131072 and 4194304 bytes (the trace's bytes args; read + written), the direct copy of
  // tokens x top_k int64 (the strided scores copy between them is a copy_strided).
  const std::vector<double> copies = e.bytes("attn(F)", "moe.router", OpPass::forward, "copy");
  REQUIRE(copies.size() == 3);  // the strided one (grid 2048) is a copy_strided, tested above
  CHECK(copies[0] == 2.0 * 131072);
  CHECK(copies[1] == 2.0 * 4194304);
  CHECK(copies[2] == 4096.0 * 8 * 16);
  CHECK(e.bytes("attn(F)", "moe.router", OpPass::forward, "memset") == std::vector<double>{8, 1024});
  CHECK(e.bytes("attn(B)", "moe.router", OpPass::backward_input, "memset") == std::vector<double>{4});
  // reduce_fused: the pass's routed rows (32512 F, 32128 B here; x 7168, BF16) read, the tokens written.
  CHECK(e.bytes("mlp(F)", "moe.combine", OpPass::forward, "moe_permute") ==
        std::vector<double>{2.0 * 32512 * 7168 + 2.0 * 4096 * 7168});
  CHECK(e.bytes("mlp(B)", "moe.combine", OpPass::backward_input, "moe_permute") ==
        std::vector<double>{2.0 * 32128 * 7168 + 2.0 * 4096 * 7168});
  CHECK(e.bytes("mlp(F)", "moe.routed.gate_up", OpPass::forward, "moe_routing_map") ==
        std::vector<double>{4096.0 * 8 * 8, 4096.0 * 8 * 8});
}

TEST_CASE("recipe bytes: SwiGLU kernels, norm backward and routed scale copies by the tensors they touch", "[recipes][bytes]") {
  const Expanded e;
  const OpPass F = OpPass::forward, B = OpPass::backward_input;
  const double I = 2048;  // the expert intermediate
  // swiglu_forward_with_weight_and_per_token_cast_to_fp8 (grid = rows): BF16 input 2I and FP32 weight read,
  // FP8 output I and FP32 scales I/128 written; routed rows (32512 in F here) and the shared expert's tokens
  CHECK(e.bytes("mlp(F)", "moe.routed.swiglu", F, "swiglu") == std::vector<double>{32512 * (4 * I + 4 + I + I / 32)});
  CHECK(e.bytes("mlp(F)", "moe.shared.swiglu", F, "swiglu") == std::vector<double>{4096 * (4 * I + 4 + I + I / 32)});
  // swiglu_and_per_channel_cast_and_transpose: input read, FP8 transposed output and scales written
  CHECK(e.bytes("mlp(B)", "moe.shared.swiglu", OpPass::recompute, "swiglu") == std::vector<double>{4096 * (4 * I + I + I / 32)});
  // swiglu_forward_backward_with_weight: input 2I, dY I read, dX 2I and the output I written (BF16), FP32 weight;
  // swiglu_weight_backward_with_weight: output and dY read, one FP32 per row written (32128 rows in B here)
  CHECK(e.bytes("mlp(B)", "moe.routed.swiglu", B, "swiglu") ==
        std::vector<double>{32128 * (4 * I + 2 * I + 4 + 4 * I + 2 * I), 32128 * (4 * I + 4)});
  // ln_bwd_kernel: x, dY read, dX written, gamma (BF16), plus one FP32 dgamma and dbeta row per block (grid 132 / 660 / 528)
  CHECK(e.bytes("attn(B)", "attn.norm", B, "norm_bwd") == std::vector<double>{6.0 * 4096 * 7168 + 2 * 7168 + 132.0 * 7168 * 8});
  CHECK(e.bytes("attn(B)", "attn.q_norm", B, "norm_bwd") == std::vector<double>{6.0 * 4096 * 1536 + 2 * 1536 + 660.0 * 1536 * 8});
  CHECK(e.bytes("attn(B)", "attn.kv_norm", B, "norm_bwd") == std::vector<double>{6.0 * 4096 * 512 + 2 * 512 + 528.0 * 512 * 8});
  CHECK(e.bytes("attn(B)", "attn.norm", B, "norm").empty());
  // the FP32 scales per 128 of the grouped GEMMs' FP8 rows, read and written (copy grid x 256 = rows x width/128)
  CHECK(e.bytes("mlp(F)", "moe.routed.gate_up", F, "copy_strided") == std::vector<double>{32512.0 * 7168 / 128 * 8});
  CHECK(e.bytes("mlp(F)", "moe.routed.down", F, "copy_strided") == std::vector<double>{32512.0 * 2048 / 128 * 8});
  CHECK(e.bytes("mlp(B)", "moe.routed.down", B, "copy_strided") == std::vector<double>{32128.0 * 7168 / 128 * 8});
  CHECK(e.bytes("mlp(B)", "moe.routed.gate_up", B, "copy_strided") == std::vector<double>{32128.0 * 4096 / 128 * 8});
  CHECK(e.bytes("mlp(F)", "moe.routed.gate_up", F, "copy").empty());
}

TEST_CASE("recipe bytes: strided copies of the MLA split, the k_pe broadcast and the router scores by their grids", "[recipes][bytes]") {
  const Expanded e;
  const OpPass F = OpPass::forward, B = OpPass::backward_input, R = OpPass::recompute;
  // elementwise_kernel<128, 4> copies: grid x 512 elements, BF16 read + written
  CHECK(e.bytes("attn(F)", "attn.q_norm", F, "copy_strided") == std::vector<double>{4096.0 * 512 * 4});  // grid 4096: kv latent
  CHECK(e.bytes("attn(F)", "attn.kv_norm", F, "copy_strided") == std::vector<double>{4096.0 * 64 * 4});  // grid 512: k_pe
  CHECK(e.bytes("attn(B)", "attn.q_norm", R, "copy_strided") == std::vector<double>{4096.0 * 512 * 4});
  CHECK(e.bytes("attn(B)", "attn.kv_down", B, "copy_strided") == std::vector<double>{4096.0 * 64 * 4, 4096.0 * 512 * 4});
  // grid 65536 x 512 = tokens x 128 heads x 64: k_pe read once, written per head
  CHECK(e.bytes("attn(F)", "attn.rope", F, "copy_strided") == std::vector<double>{4096.0 * 128 * 64 * 2 + 4096.0 * 64 * 2});
  CHECK(e.bytes("attn(B)", "attn.rope", R, "copy_strided") == std::vector<double>{4096.0 * 128 * 64 * 2 + 4096.0 * 64 * 2});
  // the contiguous q/k assembly stays a copy (_copy_tensor_kernel)
  CHECK(e.bytes("attn(F)", "attn.rope", F, "copy") == std::vector<double>{4096.0 * 128 * (192 + 128) * 2});
  // router: grid 2048 x 512 = tokens x 256 FP32 scores, read + written
  CHECK(e.bytes("attn(F)", "moe.router", F, "copy_strided") == std::vector<double>{4096.0 * 256 * 8});
}

}  // namespace test_recipe_bytes
