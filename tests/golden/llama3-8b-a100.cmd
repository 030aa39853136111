# Llama 3 8B on the A100 cluster (a100-1024, 128 DGX A100 nodes) on its own kernel-benchmark calibration (a100-kernel-benchmarks.yaml, recipes-bf16-dense), pp 4 dp 256
run
--format json
--ramp-points 1
--cluster topologies/a100-1024.yaml
--workload workloads/llama3-8b.yaml
--set workload.parallelism.dp=256
