#pragma once
// The step program: one training step as a DAG of compute tasks and transfer
// tasks over the GPUs that are simulated. Built from the specs, the cost model,
// the pipeline schedule and the collectives; executed by sim/engine. It knows
// nothing of SimGrid; the engine knows nothing of transformers.
#include <boost/graph/compressed_sparse_row_graph.hpp>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sim/config/spec.hpp"
#include "sim/parallel/collectives.hpp"

namespace trainsim {

enum class Fidelity { full, symmetric };

// What a task's time is reported as in the breakdown.
enum class Category : std::uint8_t {
  attention,     // attention block: norms, projections, attention core, MoE gate
  mlp,           // routed + shared experts, or the dense FFN
  embedding_head,
  mtp,
  optimizer,
  pp,            // pipeline send/receive
  ep,            // MoE dispatch / combine
  tp,            // tensor-parallel all-reduce (sequence parallel: all-gather, reduce-scatter)
  dp,            // data-parallel reduce-scatter / all-gather
  cp,            // context-parallel ring (KV blocks of ring attention)
};
[[nodiscard]] const char* to_string(Category c);
[[nodiscard]] bool is_communication(Category c);

// What a task belongs to, for the schedule's phases in the report: the pass of
// the pipeline op it is part of (F, B, W, BW, or an FB pair, as PassKind), the
// optimizer, or none (pipeline sends and data-parallel collectives).
enum class TaskPass : std::uint8_t { none, F, B, W, BW, FB, optimizer };

// Streams of a GPU: kernels on one stream run in program order.
enum class Stream : std::uint8_t { compute = 0, compute_aux = 1, comm = 2 };

// A transfer task's transfers: an immutable list, shared by every task that moves the same
// bytes between the same GPUs. The step program interns them as tasks are added
// (StepGraphDraft::add_task): under balanced routing an EP group's dispatch is the same in
// every micro-batch and layer, so at 2048 GPUs in full fidelity 5e7 transfers (16 bytes
// each) are held as a few hundred lists.
class TransferList {
 public:
  TransferList() = default;
  TransferList(std::vector<parallel::Transfer> transfers);                // NOLINT: implicit, as a vector
  TransferList(std::initializer_list<parallel::Transfer> transfers);      // NOLINT: implicit, as a vector
  explicit TransferList(std::shared_ptr<const std::vector<parallel::Transfer>> shared);

  [[nodiscard]] const std::vector<parallel::Transfer>& items() const { return list_ ? *list_ : none(); }
  [[nodiscard]] auto begin() const { return items().begin(); }
  [[nodiscard]] auto end() const { return items().end(); }
  [[nodiscard]] std::size_t size() const { return items().size(); }
  [[nodiscard]] bool empty() const { return items().empty(); }
  [[nodiscard]] const parallel::Transfer& operator[](std::size_t i) const { return items()[i]; }
  [[nodiscard]] const parallel::Transfer& front() const { return items().front(); }
  // The list itself (tasks that share it share this pointer; null when empty).
  [[nodiscard]] const std::shared_ptr<const std::vector<parallel::Transfer>>& shared() const { return list_; }

 private:
  static const std::vector<parallel::Transfer>& none();
  std::shared_ptr<const std::vector<parallel::Transfer>> list_;
};

// A task's name: immutable text shared by every task of that name. In full fidelity every
// GPU of a stage runs a task named "F mb3 L12 mlp"; StepGraphDraft::add_task interns names
// as it interns transfer lists, so a task holds a pointer (16 bytes) where a string took 32.
class TaskName {
 public:
  TaskName() = default;
  TaskName(std::string text);  // NOLINT: implicit, as a string
  TaskName(const char* text);  // NOLINT: implicit, as a string
  explicit TaskName(std::shared_ptr<const std::string> shared) : text_(std::move(shared)) {}

  [[nodiscard]] const std::string& str() const { return text_ ? *text_ : none(); }
  operator const std::string&() const { return str(); }  // NOLINT: reads as the string it is
  [[nodiscard]] const char* c_str() const { return str().c_str(); }
  [[nodiscard]] bool empty() const { return str().empty(); }
  // The text itself (tasks that share it share this pointer; null when empty).
  [[nodiscard]] const std::shared_ptr<const std::string>& shared() const { return text_; }
  friend bool operator==(const TaskName& a, const TaskName& b) { return a.str() == b.str(); }
  friend std::ostream& operator<<(std::ostream& out, const TaskName& n) { return out << n.str(); }
  template <class Text>
    requires std::convertible_to<const Text&, std::string_view>
  friend bool operator==(const TaskName& a, const Text& b) {
    return a.str() == std::string_view(b);
  }

 private:
  static const std::string& none();
  std::shared_ptr<const std::string> text_;
};

// Fields ordered largest first (72 bytes; a full-fidelity step of 16,384 GPUs holds 5e7).
struct StepTask {
  TaskName name;
  double seconds = 0;            // compute duration on all of the GPU's SMs
  double model_flops = 0;        // FLOPs counted for throughput/MFU (no recomputation)
  // Compute duration on the SMs left while a communication task runs on the GPU
  // (parallelism.comm_sms held by its kernels); the engine runs the task at rate
  // seconds / seconds_sm_shared during such intervals. 0: same as `seconds`.
  // A transfer task holds those SMs on every GPU that sends or receives one of its
  // transfers, from its start to its end.
  double seconds_sm_shared = 0;
  TransferList transfers;        // transfer task: all run concurrently; done when all are
  int gpu = 0;                   // where it runs (compute) or whose stream it occupies (transfer)
  int pipeline_op = -1;          // index of its op in its pipeline rank's schedule; -1 outside one
  Category category = Category::attention;
  Stream stream = Stream::compute;
  TaskPass pass = TaskPass::none;
  [[nodiscard]] bool is_transfer() const { return !transfers.empty() || is_communication(category); }
};

// Every GPU task t involves: its own and every sender's and receiver's, sorted, each once,
// into `gpus` (its old contents dropped; a buffer reused across tasks).
void involved_gpus(const StepTask& t, std::vector<int>& gpus);

// The DAG's edges in compressed sparse row form, out- and in-edges, 32-bit indices: about
// 12 bytes per edge where Boost's adjacency_list took about 100 (a list node per edge and two
// small vectors per task); at 2048 GPUs in full fidelity a step has 6.2 M tasks and 17.8 M
// edges. The tasks are a vector beside it, not the graph's vertex properties: Boost's CSR
// constructors default-construct every vertex property, so a graph holding the tasks was
// made while the draft still held them all (twice the tasks' memory at the peak).
using StepTopology = boost::compressed_sparse_row_graph<boost::bidirectionalS, boost::no_property, boost::no_property,
                                                        boost::no_property, std::uint32_t, std::uint32_t>;
using TaskId = StepTopology::vertex_descriptor;

// The step DAG: task v is tasks[v] and vertex v of the topology. Immutable: builders add to
// a StepGraphDraft and make the graph once. Read it with the Boost-style free functions
// below (num_vertices, in_edges, source, ...), found by argument-dependent lookup.
struct StepGraph {
  StepTopology topology;
  std::vector<StepTask> tasks;
  [[nodiscard]] const StepTask& operator[](std::size_t v) const { return tasks[v]; }
  [[nodiscard]] StepTask& operator[](std::size_t v) { return tasks[v]; }
};
using StepEdge = StepTopology::edge_descriptor;

[[nodiscard]] inline std::size_t num_vertices(const StepGraph& g) { return g.tasks.size(); }
[[nodiscard]] inline std::size_t num_edges(const StepGraph& g) { return boost::num_edges(g.topology); }
[[nodiscard]] inline auto out_edges(TaskId v, const StepGraph& g) { return boost::out_edges(v, g.topology); }
[[nodiscard]] inline auto in_edges(TaskId v, const StepGraph& g) { return boost::in_edges(v, g.topology); }
[[nodiscard]] inline std::size_t in_degree(TaskId v, const StepGraph& g) { return boost::in_degree(v, g.topology); }
[[nodiscard]] inline std::size_t out_degree(TaskId v, const StepGraph& g) { return boost::out_degree(v, g.topology); }
[[nodiscard]] inline TaskId source(StepEdge e, const StepGraph& g) { return boost::source(e, g.topology); }
[[nodiscard]] inline TaskId target(StepEdge e, const StepGraph& g) { return boost::target(e, g.topology); }

// A step graph being built: tasks in the order added (their ids), edges as pairs.
struct StepGraphDraft {
  // One block: freed at once when make_step_graph has moved the tasks into the graph.
  // (A deque, freed block by block, left the heap full of small holes that every
  // allocation of the run then searched: 512 GPUs full fidelity took 2x the CPU.)
  std::vector<StepTask> tasks;
  std::vector<std::pair<TaskId, TaskId>> edges;  // (before, after)
  // Every distinct transfer list so far, by a hash of its contents (TransferList).
  std::unordered_multimap<std::size_t, std::shared_ptr<const std::vector<parallel::Transfer>>> transfer_lists;
  // Every distinct name so far, keyed by its own text.
  std::unordered_map<std::string_view, std::shared_ptr<const std::string>> names;

  // Adds the task; its transfers and its name become the list and the name an earlier task
  // holds when equal.
  TaskId add_task(StepTask task);
  void add_edge(std::size_t before, std::size_t after);  // both must be tasks of the draft
};

// The graph of a draft (which it empties): task i of the draft is vertex i, and each
// vertex's out- and in-edges keep the order they were added in. std::length_error
// beyond 2^32 - 1 tasks or edges.
[[nodiscard]] StepGraph make_step_graph(StepGraphDraft&& draft);

struct StepProgram {
  StepGraph graph;                 // edges: u must finish before v starts
  std::vector<int> simulated_gpus; // every GPU that owns tasks (full: all; symmetric: one pipeline)
  int num_gpus = 0;                // GPUs of the whole cluster the program stands for
  int microbatches = 0;
  double tokens_per_step = 0;
  std::vector<std::vector<int>> stage_layers;  // model stage → indices into ModelCost::layers
  Fidelity fidelity = Fidelity::symmetric;
  std::vector<std::string> notes;  // approximations the program had to make
  int pacing_gpu = -1;             // stragglers: the slowest GPU; -1 = every GPU at nominal speed
  double pacing_speed = 1;         // its compute speed, a fraction of nominal
};

// Which GPU holds (pipeline rank, data-parallel index, tensor-parallel index,
// context-parallel index). Megatron order from the innermost: tensor-parallel
// ranks (inside a node), context-parallel, data-parallel, pipeline ranks
// outermost, so an EP group of `ep` consecutive DP ranks spans
// ep·tp/gpus_per_node nodes (cp is 1 under EP).
[[nodiscard]] int gpu_of(const ParallelismSpec& p, int pp_rank, int dp_index, int tp_index, int cp_index);

// The step program's replicas of a pipeline rank: every (data-parallel index,
// context-parallel index) pair, numbered replica = dp_index·cp + cp_index. They
// run the same tasks (a CP rank on its 1/cp of the tokens) and hold the same
// parameters, so the gradients are reduced over all of them. With cp = 1 a
// replica is a data-parallel index.
[[nodiscard]] int replicas_per_rank(const ParallelismSpec& p);

// gpu_of for a replica (as above): (pp_rank·dp·cp + replica)·tp + tp_index.
[[nodiscard]] int gpu_of(const ParallelismSpec& p, int pp_rank, int replica, int tp_index);

// Builds the step program for `global_batch_sequences` (the full batch, or a
// point of the batch ramp). Throws InputError for schedules the batch does not fit.
[[nodiscard]] StepProgram build_step_program(const ClusterSpec& cluster, const WorkloadSpec& workload,
                                             int global_batch_sequences, Fidelity fidelity);

}  // namespace trainsim
