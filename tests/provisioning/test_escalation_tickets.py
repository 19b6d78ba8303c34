"""What an escalation ticket says, without JIRA: masking, labels, the summary's limit,
a config that could not be resolved, and both text formats."""

from __future__ import annotations

import json
import uuid

from loom.provisioning.escalation_tickets import (
    SUMMARY_MAX,
    Case,
    EarlierTicket,
    Setup,
    TaskFacts,
    description,
    labels,
    masked,
    round_label,
    search_jql,
    summary,
)

SECRET = "hunter2-very-secret"


def _mask(text: str) -> str:
    return text.replace(SECRET, "••••")


def _task(position: int, **changes: object) -> TaskFacts:
    values: dict[str, object] = {
        "id": uuid.uuid4(), "position": position, "component_id": "db", "action_id": "create",
        "action_type": "rest-api", "state": "pending", "attempts": 0,
    }  # fmt: skip
    values.update(changes)
    return TaskFacts(**values)  # type: ignore[arg-type]


def _case(entry_name: str = "Database") -> Case:
    failed = _task(1, state="stuck", attempts=3, error="its message timed out 3 times")
    return Case(
        request_id=uuid.uuid4(), entry_name=entry_name, entry_version="2.0", kind="CatalogItem",
        team="Data", requester="Rita <rita@loom.test>", escalated_by="otto@loom.test",
        request_url="/ui/requests/x", tasks_total=3, failed=failed,
        completed=[_task(0, state="completed", outputs={"host": "db1", "password": "pw"})],
        round_label=round_label(failed),
    )  # fmt: skip


def test_masked_hides_credential_keys_and_secret_values_anywhere() -> None:
    config = {
        "url": f"https://api.example.com/?sig={SECRET}",
        "headers": {"Authorization": "Bearer x", "X-Api-Key": "k", "Accept": "json"},
        "nested": [{"client_secret": "s"}, {"password": ""}],
        "count": 3,
    }

    shown = masked(config, _mask)

    assert shown == {
        "url": "https://api.example.com/?sig=••••",
        "headers": {"Authorization": "••••", "X-Api-Key": "••••", "Accept": "json"},
        "nested": [{"client_secret": "••••"}, {"password": ""}],
        "count": 3,
    }
    assert config["headers"]["Authorization"] == "Bearer x"  # type: ignore[index]


def test_labels_mark_the_task_and_the_round_of_the_escalation() -> None:
    case = _case()
    task = _task(2)

    found = labels(case, task)

    assert found == ["loom-escalation", "loom-escalation-task2-attempt3",
                     f"loom-request-{case.request_id}", f"loom-task-{task.id}"]  # fmt: skip
    assert all(" " not in label for label in found)
    assert search_jql(case, task) == (
        f'labels = "loom-task-{task.id}" AND labels = "loom-escalation-task2-attempt3" '
        "ORDER BY created ASC"
    )


def test_a_long_summary_is_cut_to_jiras_limit() -> None:
    text = summary(_case("x" * 400), _task(1))
    assert len(text) == SUMMARY_MAX and text.endswith("…")


def test_a_config_that_could_not_be_resolved_is_shown_as_written() -> None:
    case, task = _case(), _task(2, action_id="grant")
    setup = Setup({"role": "{{ .current.nope }}", "token": SECRET}, {"db": "app"},
                  error="the config could not be rendered: .current.nope is missing")  # fmt: skip
    earlier = [EarlierTicket("OPS-7", "https://jira/browse/OPS-7", case.failed)]

    text = description(case, task, setup, earlier, 0, _mask, "2")

    assert isinstance(text, str)
    assert "could not be resolved (the config could not be rendered: .current.nope" in text
    assert "|role|\\{\\{ .current.nope \\}\\}|" in text and "|token|••••|" in text
    assert "||Failed task||2. db.create (rest-api)||" in text and "|State|stuck|" in text
    assert "|1. db.create (rest-api): password|••••|" in text
    assert "|OPS-7|2. db.create (rest-api): https://jira/browse/OPS-7|" in text
    assert "No ticket follows this one." in text
    assert "/ui/requests/x" not in text  # not an absolute URL: no link to it
    assert SECRET not in text


def test_rest_v3_gets_the_same_text_as_an_atlassian_document() -> None:
    case = _case()
    setup = Setup({"db": "app", "apiToken": SECRET}, {})

    document = description(case, _task(2), setup, [], 1, _mask, "3")

    assert isinstance(document, dict) and document["type"] == "doc"
    text = json.dumps(document, ensure_ascii=False)
    assert "1 more ticket follows this one, blocked by it." in text
    assert "its message timed out 3 times" in text and SECRET not in text
