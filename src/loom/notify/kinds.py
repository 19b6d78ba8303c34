"""The kinds of channels and the states of a notification."""

from __future__ import annotations

import enum


class ChannelKind(enum.StrEnum):
    SLACK = "slack"
    PAGERDUTY = "pagerduty"
    TEAMS = "teams"
    EMAIL = "email"
    WEBHOOK = "webhook"


class AttemptStatus(enum.StrEnum):
    """One attempt to deliver a notification to a channel."""

    SENT = "sent"
    #: Failed for now; another attempt is queued (after a back-off).
    RETRYING = "retrying"
    #: Failed for good (a permanent failure, or the last attempt): a person looks at it.
    DEAD = "dead"
    #: Not sent: a maintenance window was open (recorded all the same).
    MUTED = "muted"
