# Context parallelism (ring attention) with sequence parallelism: the Llama 3 405B long-context recipe (tp 8, cp 16, 131072 tokens) cut to 512 GPUs (16 layers, pp 2, dp 2)
run
--format json
--ramp-points 1
--cluster topologies/h100-2048.yaml
--workload workloads/llama3-405b-long-context.yaml
--set cluster.nodes=64
--set workload.model.layers=16
--set workload.parallelism.pp=2
--set workload.parallelism.dp=2
--set workload.training.global_batch=8
