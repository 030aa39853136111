# FSDP (ZeRO-3): Llama 3 8B, tp 1, pp 1, dp 128 on 16 nodes of h100-2048, per-layer gathers and reduce-scatters
run
--format json
--ramp-points 1
--cluster topologies/h100-2048.yaml
--workload workloads/llama3-8b-fsdp.yaml
--set cluster.nodes=16
--set workload.parallelism.dp=128
