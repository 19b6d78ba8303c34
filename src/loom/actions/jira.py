"""The `jira-ticket` action: a JIRA ticket for a step people do by hand.

The ticket carries everything the team needs: the configured summary and description,
or by default the task's form values as a table, who asked, and a link back to the
request in the portal. Every ticket is labelled `loom-task-<task id>` and
`loom-request-<request id>`, so `reconcile` finds the ticket of an attempt that crashed
(a JQL search on the task label) instead of opening a second one. With `linkToPrevious`
(the default) the request's previous ticket on the same instance blocks this one, so a
bundle's tickets form a chain in task order.

`waitFor: created` completes the task once the ticket exists; `waitFor: done` makes it a
waiting task (kind `jira-status`) that completes when the ticket reaches a done status
(its status category is done, or its name is one of the instance's `done_statuses`),
whatever its resolution. Outputs: `ticketKey`, `ticketUrl`; external references:
`{"jira": key, "url": browse URL, "jira_instance": instance name}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel

from loom.actions.base import ActionContext, ActionFailed, ActionResult
from loom.actions.builtin import JiraTicketConfig
from loom.actions.waits import CheckResult, Wait
from loom.integrations import jira_text
from loom.integrations.jira import JiraClient, Ticket, TicketNotFound
from loom.integrations.jira_text import Block, Link, Paragraph, Table

WAIT_KIND = "jira-status"
CHECK_EVERY_SECONDS = 60.0
SUMMARY_MAX = 255


def task_label(ctx: ActionContext[Any]) -> str:
    return f"loom-task-{ctx.task_id}"


def request_label(ctx: ActionContext[Any]) -> str:
    return f"loom-request-{ctx.request_id}"


def request_url(ctx: ActionContext[Any]) -> str:
    """The request's page in the portal (relative when server.public_url is not set)."""
    return f"{ctx.settings.server.public_url.rstrip('/')}/ui/requests/{ctx.request_id}"


class JiraTicket:
    """Executor of `jira-ticket` tasks."""

    config_model: ClassVar[type[BaseModel]] = JiraTicketConfig

    async def execute(self, ctx: ActionContext[JiraTicketConfig]) -> ActionResult:
        client = JiraClient.of(ctx, ctx.config.instance or None)
        ticket = await client.create_issue(self.fields(ctx, client))
        ctx.log(f"created {ticket.key}: {ticket.url}")
        await self._link(ctx, client, ticket)
        return self._result(ctx, client, ticket)

    async def reconcile(self, ctx: ActionContext[JiraTicketConfig]) -> ActionResult | None:
        """The ticket an earlier attempt created (found by its task label), linked as
        `execute` would have linked it; None when there is none."""
        client = JiraClient.of(ctx, ctx.config.instance or None)
        label = task_label(ctx)
        found = await client.search(f'labels = "{label}" ORDER BY created ASC', ["summary"])
        if not found:
            ctx.log(f"no ticket labelled {label}: creating it")
            return None
        keys = [str(issue["key"]) for issue in found]
        if len(keys) > 1:
            ctx.log(f"several tickets labelled {label}: {', '.join(keys)}; using {keys[0]}",
                    "warning")  # fmt: skip
        ticket = Ticket(keys[0], str(found[0].get("id") or ""), client.browse_url(keys[0]))
        ctx.log(f"found {ticket.key}, created by an earlier attempt: not creating another")
        await self._link(ctx, client, ticket)
        return self._result(ctx, client, ticket)

    async def check(
        self, ctx: ActionContext[JiraTicketConfig], state: Mapping[str, Any]
    ) -> CheckResult:
        """Done once the ticket is done; failed if it no longer exists."""
        client = JiraClient.of(ctx, str(state.get("instance") or "") or None)
        key = str(state["key"])
        try:
            status = await client.status(key)
        except TicketNotFound as missing:
            return CheckResult.failed(missing.message)
        if status.status != "done":
            return CheckResult.waiting(reason=f"{key} is {status.raw_status or status.status}")
        ctx.log(f"{key} is {status.raw_status}" + (f" ({status.resolution})"
                if status.resolution else ""))  # fmt: skip
        ticket = Ticket(key, "", status.url)
        outputs = {**_outputs(ticket), "ticketStatus": status.raw_status}
        return CheckResult.done(outputs, _refs(client, ticket))

    def fields(self, ctx: ActionContext[JiraTicketConfig], client: JiraClient) -> dict[str, Any]:
        """The `fields` of the create call."""
        config = ctx.config
        project = config.project or client.instance.default_project
        if not project:
            raise ActionFailed(f"no JIRA project: set the action's `project` or the default_"
                               f"project of instance {client.name!r}")  # fmt: skip
        summary = " ".join(config.summary.split())
        if len(summary) > SUMMARY_MAX:
            ctx.log(f"summary cut to {SUMMARY_MAX} characters (JIRA's limit)", "warning")
            summary = summary[: SUMMARY_MAX - 1] + "…"
        labels = list(dict.fromkeys([*config.labels, task_label(ctx), request_label(ctx)]))
        fields: dict[str, Any] = {
            "project": {"key": project},
            "issuetype": {"name": config.issue_type},
            "summary": summary,
            "labels": labels,
            "description": self.description(ctx, client),
        }
        if config.components:
            fields["components"] = [{"name": name} for name in config.components]
        if config.priority:
            fields["priority"] = {"name": config.priority}
        fields.update(config.custom_fields)
        return fields

    def description(
        self, ctx: ActionContext[JiraTicketConfig], client: JiraClient
    ) -> str | dict[str, Any]:
        """The configured description, else the form values, who asked and a link back."""
        version = client.instance.api_version
        if ctx.config.description.strip():
            return jira_text.plain(ctx.config.description, version)
        who = ctx.requester.get("name") or ""
        email = ctx.requester.get("email") or ""
        requester = f"{who} <{email}>" if who and email else (who or email or "someone")
        blocks: list[Block] = [Paragraph(f"Requested through Loom by {requester}.")]
        rows = jira_text.form_rows(ctx.inputs)
        blocks.append(Table(("Field", "Value"), rows) if rows else Paragraph("No form values."))
        url = request_url(ctx)
        if url.startswith(("http://", "https://")):
            blocks.append(Link(f"Loom request {ctx.request_id}", url))
        else:
            blocks.append(Paragraph(f"Loom request {ctx.request_id}"))
        return jira_text.render(blocks, version)

    async def _link(
        self, ctx: ActionContext[JiraTicketConfig], client: JiraClient, ticket: Ticket
    ) -> None:
        if not ctx.config.link_to_previous:
            return
        previous = _previous_ticket(ctx)
        if previous is None:
            return
        key, instance = previous
        if instance and instance != client.name:
            ctx.log(f"not linked to {key}: it is on JIRA instance {instance!r}")
            return
        if key == ticket.key:
            return
        try:
            await client.link_blocks(key, ticket.key)
        except ActionFailed as failure:
            raise ActionFailed(
                f"{ticket.key} was created but not linked to {key}: {failure.message} "
                "(a retry finds the ticket and links it)",
                retryable=failure.retryable,
            ) from None
        ctx.log(f"{key} blocks {ticket.key}")

    def _result(
        self, ctx: ActionContext[JiraTicketConfig], client: JiraClient, ticket: Ticket
    ) -> ActionResult:
        result = ctx.result(_outputs(ticket), _refs(client, ticket))
        if ctx.config.wait_for == "done":
            result.wait = Wait(
                WAIT_KIND,
                f"waiting for {ticket.key} to be done in JIRA",
                {"instance": client.name, "key": ticket.key},
                every_seconds=CHECK_EVERY_SECONDS,
            )
        return result


def _outputs(ticket: Ticket) -> dict[str, Any]:
    return {"ticketKey": ticket.key, "ticketUrl": ticket.url}


def _refs(client: JiraClient, ticket: Ticket) -> dict[str, str]:
    return {"jira": ticket.key, "url": ticket.url, "jira_instance": client.name}


def _previous_ticket(ctx: ActionContext[Any]) -> tuple[str, str] | None:
    """(key, instance) of the latest ticket among the request's earlier tasks."""
    for refs in reversed(ctx.earlier_refs):
        key = refs.get("jira")
        if key:
            return str(key), str(refs.get("jira_instance") or "")
    return None
