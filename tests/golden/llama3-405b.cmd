# A dense model: Llama 3 405B as its workload file trains it, on h800-2048
# without recompute (as its workload file says) rank 1 needs 121 GB of 80 GB: simulated anyway
run
--format json
--ramp-points 1
--workload workloads/llama3-405b.yaml
--allow-oversubscribed-memory
