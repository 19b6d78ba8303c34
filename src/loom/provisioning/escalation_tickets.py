"""What an escalation ticket says: the request and its failure, the tasks completed with
their outputs, the tickets already opened for the escalation, and the setup of its own
task (its config resolved as a worker resolves it, secrets masked), written once as
`loom.integrations.jira_text` blocks for REST v2 (wiki markup) or v3 (ADF).

Pure functions over a snapshot taken by loom.provisioning.escalation: no database, no
calls. Every text that comes from a request passes through `mask` first: values under
secret-looking keys and credential headers become the mask, and so does any secret form
value of the request wherever it appears (`ActionContext.mask`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from loom.audit.masking import MASK
from loom.integrations import jira_text
from loom.integrations.jira_text import Block, Link, Paragraph, Table
from loom.platform.http import is_credential_header

SUMMARY_MAX = 255
#: A table cell longer than this is cut (JIRA refuses descriptions over 32,767 chars).
CELL_MAX = 1500
ESCALATION_LABEL = "loom-escalation"

Masker = Callable[[str], str]


@dataclass(frozen=True)
class TaskFacts:
    """One task of the request as the ticket describes it."""

    id: uuid.UUID
    position: int
    component_id: str
    action_id: str
    action_type: str
    state: str
    attempts: int
    description: str = ""
    error: str | None = None
    finished_at: datetime | None = None
    outputs: Mapping[str, Any] = field(default_factory=dict)
    external_refs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def number(self) -> int:
        return self.position + 1

    @property
    def name(self) -> str:
        """`database.create (rest-api)`: its component, action and type."""
        action = f"{self.component_id}.{self.action_id}" if self.component_id else self.action_id
        return f"{action} ({self.action_type})"

    @property
    def label(self) -> str:
        """`3. database.create (rest-api)`."""
        return f"{self.number}. {self.name}"


@dataclass(frozen=True)
class Setup:
    """A task's config resolved for the ticket, or why it could not be."""

    config: Any
    inputs: Mapping[str, Any]
    notes: Sequence[str] = ()
    error: str | None = None  # set: `config` is the config as written in the catalog


@dataclass(frozen=True)
class Case:
    """The request being escalated, as every one of its tickets tells it."""

    request_id: uuid.UUID
    entry_name: str
    entry_version: str
    kind: str
    team: str
    requester: str
    escalated_by: str
    request_url: str
    tasks_total: int
    failed: TaskFacts
    completed: Sequence[TaskFacts]
    #: `loom-escalation-task<N>-attempt<M>`: this escalation's tickets, and only them.
    round_label: str


@dataclass(frozen=True)
class EarlierTicket:
    key: str
    url: str
    task: TaskFacts


def round_label(failed: TaskFacts) -> str:
    """Marks the tickets of one escalation: those of the failure of task N at attempt M.
    A re-run after a crash finds them again; an escalation after a later failure (a
    retry that failed again) opens new ones."""
    return f"{ESCALATION_LABEL}-task{failed.number}-attempt{max(failed.attempts, 1)}"


def labels(case: Case, task: TaskFacts) -> list[str]:
    return [ESCALATION_LABEL, case.round_label, f"loom-request-{case.request_id}",
            f"loom-task-{task.id}"]  # fmt: skip


def search_jql(case: Case, task: TaskFacts) -> str:
    """The ticket an earlier run of this escalation opened for `task`, if any."""
    return (f'labels = "loom-task-{task.id}" AND labels = "{case.round_label}" '
            "ORDER BY created ASC")  # fmt: skip


def summary(case: Case, task: TaskFacts) -> str:
    text = (
        f"[Loom] {case.entry_name}: task {task.number} of {case.tasks_total} by hand: {task.name}"
    )
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1] + "…"


def masked(value: Any, mask: Masker) -> Any:
    """`value` with credential-named keys' values and known secret values masked."""
    if isinstance(value, Mapping):
        return {
            key: MASK if is_credential_header(str(key)) and child not in (None, "")
            else masked(child, mask)
            for key, child in value.items()
        }  # fmt: skip
    if isinstance(value, list | tuple):
        return [masked(child, mask) for child in value]
    if isinstance(value, str):
        return mask(value)
    return value


def description(
    case: Case,
    task: TaskFacts,
    setup: Setup,
    earlier: Sequence[EarlierTicket],
    following: int,
    mask: Masker,
    api_version: Literal["2", "3"],
) -> str | dict[str, Any]:
    """The ticket's description; `following`: how many tickets come after this one."""
    blocks: list[Block] = [
        Paragraph(mask(
            f"Loom could not finish request {case.request_id} ({case.entry_name} "
            f"{case.entry_version}, a {'bundle' if case.kind == 'CatalogBundle' else 'item'}) "
            f"and {case.escalated_by} escalated it to people: task {case.failed.number} "
            f"failed, and it and every task after it are now done by hand, one ticket "
            f"each. This ticket is task {task.number} of {case.tasks_total}."
        )),
        Paragraph(mask(f"Requested by {case.requester} for team {case.team}.")),
    ]  # fmt: skip
    if case.request_url.startswith(("http://", "https://")):
        blocks.append(Link(f"Loom request {case.request_id}", case.request_url))
    blocks += _failure(case.failed, mask)
    blocks += _completed(case.completed, mask)
    blocks += _earlier(earlier, following)
    blocks += _setup(task, setup, mask)
    blocks.append(Paragraph(
        "When it is done, mark this ticket done. Once every ticket of this escalation is "
        f"done, complete the request in Loom (its page, or `loom request complete "
        f"{case.request_id}`); to hand the work back to Loom instead, retry it there."
    ))  # fmt: skip
    return jira_text.render(blocks, api_version)


def _failure(failed: TaskFacts, mask: Masker) -> list[Block]:
    rows = [
        ("State", failed.state),
        ("Attempts", str(failed.attempts)),
        ("Error", _cell(mask(failed.error or "no error was recorded"))),
    ]
    if failed.finished_at is not None:
        rows.append(("At", failed.finished_at.isoformat(timespec="seconds")))
    return [Paragraph("The failure:"), Table(("Failed task", failed.label), rows)]


def _completed(completed: Sequence[TaskFacts], mask: Masker) -> list[Block]:
    if not completed:
        return [Paragraph("No task of the request was completed before the failure.")]
    rows: list[tuple[str, str]] = []
    for task in completed:
        if not task.outputs and not task.external_refs:
            rows.append((task.label, "completed, no outputs"))
        for name, value in jira_text.form_rows(masked(task.outputs, mask)):
            rows.append((f"{task.label}: {name}", _cell(value)))
        for name, value in jira_text.form_rows(masked(task.external_refs, mask)):
            rows.append((f"{task.label}: reference {name}", _cell(value)))
    return [Paragraph("Completed tasks and their outputs:"),
            Table(("Task: output", "Value"), rows)]  # fmt: skip


def _earlier(earlier: Sequence[EarlierTicket], following: int) -> list[Block]:
    if following == 0:
        after = " No ticket follows this one."
    elif following == 1:
        after = " 1 more ticket follows this one, blocked by it."
    else:
        after = f" {following} more tickets follow this one, each blocked by the one before."
    if not earlier:
        return [Paragraph("This is the first ticket of the escalation." + after)]
    rows = [(t.key, f"{t.task.label}: {t.url}") for t in earlier]
    return [Paragraph("Tickets already opened for this escalation, in order (the last one "
                      "blocks this ticket):"), Table(("Ticket", "Task"), rows),
            Paragraph(after.strip())]  # fmt: skip


def _setup(task: TaskFacts, setup: Setup, mask: Masker) -> list[Block]:
    what = f"To do by hand: task {task.label}."
    blocks: list[Block] = [Paragraph(f"{what} {task.description}".strip())]
    inputs = jira_text.form_rows(masked(setup.inputs, mask))
    blocks += [Paragraph("Its form values:"), Table(("Field", "Value"), _cut(inputs))
               if inputs else Paragraph("No form values.")]  # fmt: skip
    if setup.error is not None:
        blocks.append(Paragraph(mask(f"Its setup could not be resolved ({setup.error}); "
                                     "as written in the catalog:")))  # fmt: skip
    else:
        blocks.append(Paragraph(f"Its setup: the config Loom would run, resolved (secrets "
                                f"shown as {MASK}):"))  # fmt: skip
    config = masked(setup.config, mask)
    rows = jira_text.form_rows(config) if isinstance(config, Mapping) else [("", str(config))]
    blocks.append(Table(("Setting", "Value"), _cut(rows)) if rows else Paragraph("(empty)"))
    if setup.notes:
        blocks.append(Paragraph(mask("Notes: " + "; ".join(setup.notes))))
    return blocks


def _cut(rows: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, _cell(value)) for name, value in rows]


def _cell(text: str) -> str:
    return text if len(text) <= CELL_MAX else text[: CELL_MAX - 1] + "…"
