"""Pieces the PostgreSQL hot paths share (the worker's claim and finish in
loom.workers.fast_path, a submission in loom.provisioning.pg_submit): the log lines of a
transaction, written by one statement, and JSON parameters."""

from __future__ import annotations

import json
import uuid
from typing import Any

#: A CTE body inserting a transaction's log lines in the order they were added.
LOG_LINES = """
    INSERT INTO task_logs (request_id, task_id, at, level, message)
    SELECT :request_id::uuid, x.task_id, :now::timestamptz, x.level, x.message
    FROM unnest(:log_tasks::uuid[], :log_levels::text[], :log_messages::text[])
         WITH ORDINALITY AS x(task_id, level, message, n)
    ORDER BY x.n
"""


class Lines:
    """Log lines of one transaction (the `log_line`s of the ORM path)."""

    def __init__(self) -> None:
        self.tasks: list[uuid.UUID | None] = []
        self.levels: list[str] = []
        self.messages: list[str] = []

    def add(self, message: str, task_id: uuid.UUID | None = None, level: str = "info") -> None:
        self.tasks.append(task_id)
        self.levels.append(level)
        self.messages.append(message)

    def params(self) -> dict[str, Any]:
        return {"log_tasks": self.tasks, "log_levels": self.levels, "log_messages": self.messages}


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
