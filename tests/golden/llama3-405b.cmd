# A dense model: Llama 3 405B as its workload file trains it, on h800-2048
run
--format json
--ramp-points 1
--workload workloads/llama3-405b.yaml
