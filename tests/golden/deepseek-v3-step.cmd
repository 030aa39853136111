# The default case (DeepSeek-V3 on h800-2048, DualPipe, FP8), one full-batch step, symmetric fidelity
# by the memory model ranks 0 and 15 need 86.8 GB of 80 GB (see README, Per-GPU memory): simulated anyway
run
--format json
--ramp-points 1
--allow-oversubscribed-memory
