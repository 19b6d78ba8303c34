"""Notifications: channels (Slack, PagerDuty, Microsoft Teams, e-mail, generic webhook),
what is said about an incident, and its delivery."""
