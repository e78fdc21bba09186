"""service: `detonate serve` — the REST API, health and metrics over the store and the queue."""
