# The default case, whole run with the batch ramp (5 ramp points)
run
--format json
--ramp-points 5
--jobs 2
