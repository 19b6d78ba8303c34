"""Running the service: runtime wiring, health, metrics, logging, tracing, scheduler."""
