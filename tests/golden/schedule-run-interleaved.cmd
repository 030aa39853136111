# Pipeline schedule interleaved on a 128-GPU pipeline cut (16 nodes, 8 layers, pp 4, ep 32, 16 micro-batches), symmetric
run
--format json
--ramp-points 1
--set cluster.nodes=16
--set workload.model.layers=8
--set workload.model.moe.first_dense_layers=1
--set workload.parallelism.pp=4
--set workload.parallelism.dp=32
--set workload.parallelism.ep=32
--set workload.training.global_batch=512
--set workload.training.batch_ramp.start=512
--set workload.parallelism.schedule=interleaved
--set workload.parallelism.virtual_stages=2
