# The default case, whole run with the batch ramp (5 ramp points)
# by the memory model ranks 0 and 15 need 86.8 GB of 80 GB (see README, Per-GPU memory): simulated anyway
run
--format json
--ramp-points 5
--jobs 2
--allow-oversubscribed-memory
