# trainsim topology of the default cluster
topology
--format json
