"""The durable event log: the API acknowledges after an append; writers drain it into the graph."""
