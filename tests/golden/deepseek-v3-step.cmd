# The default case (DeepSeek-V3 on h800-2048, DualPipe, FP8), one full-batch step, symmetric fidelity
run
--format json
--ramp-points 1
