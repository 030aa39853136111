# A GPT-style dense model: GPT-3 175B as Megatron-LM trained it (GELU, unfused attention, selective recompute, tp 8 + sequence parallelism, interleaved pp 12) on 1536 H100
run
--format json
--ramp-points 1
--workload workloads/gpt3-175b.yaml
--cluster topologies/h100-2048.yaml
--set cluster.nodes=192
