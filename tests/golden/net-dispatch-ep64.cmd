# trainsim net dispatch: one EP64 MoE dispatch (DeepEP two-hop) on the default cluster
net dispatch
--ranks 64
--format json
