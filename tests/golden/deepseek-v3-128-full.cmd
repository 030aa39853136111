# The same 128-GPU cut, full fidelity (every GPU, every flow)
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
