# trainsim schedule: 1F1B alone, pp 4, 8 micro-batches, unit chunk times
schedule
--schedule 1f1b
--pp 4
--microbatches 8
--format json
