# trainsim inspect of the default workload
inspect
--format json
