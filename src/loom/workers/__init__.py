"""Workers: consumers of the task queue that carry out fulfillment tasks."""
