"""Provisioning: requests, fulfillment tasks, bundle plans and the template variables they use."""
