# trainsim schedule: naive model parallelism (one micro-batch at a time, no overlap), pp 4, 8 micro-batches, unit chunk times
schedule
--schedule naive
--pp 4
--microbatches 8
--format json
