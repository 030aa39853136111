# Skewed routing: Zipf s=1 expert popularity on the 128-GPU cut, full fidelity
run
--format json
--ramp-points 1
--fidelity full
--set cluster.nodes=16
--set workload.model.layers=6
--set workload.model.moe.first_dense_layers=1
--set workload.parallelism.pp=2
--set workload.parallelism.dp=64
--set workload.training.global_batch=256
--set workload.training.batch_ramp.start=256
--set workload.model.moe.routing=zipf
--set workload.model.moe.zipf_exponent=1.0
