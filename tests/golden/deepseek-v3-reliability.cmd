# The default step case with a reliability section (the run with failures, 20 seeds): pins the goodput block
# rates and times are test values (assumption), not a claim about the DeepSeek-V3 cluster
run
--format json
--ramp-points 1
--allow-oversubscribed-memory
--seeds 20
--set cluster.reliability.failures_per_1000_days.gpu=1
--set cluster.reliability.failures_per_1000_days.node=2
--set cluster.reliability.failures_per_1000_days.nic=0.2
--set cluster.reliability.failures_per_1000_days.link=0.05
--set cluster.reliability.failures_per_1000_days.switch=0.5
--set cluster.reliability.detection_time=3min
--set cluster.reliability.replace_time=4h
--set cluster.reliability.restart_time=10min
--set cluster.reliability.spare_nodes=2
--set cluster.reliability.checkpoint.write_bandwidth=5GB/s
--set cluster.reliability.checkpoint.read_bandwidth=10GB/s
--set cluster.reliability.checkpoint.storage_bandwidth=1TB/s
