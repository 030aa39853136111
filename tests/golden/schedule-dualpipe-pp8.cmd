# trainsim schedule: DualPipe alone, pp 8, 20 micro-batches, unit chunk times
schedule
--schedule dualpipe
--pp 8
--microbatches 20
--format json
