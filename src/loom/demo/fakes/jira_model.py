"""The fake JIRA's data (projects, issues, the workflow To Do → In Progress → Done) and the
JSON shapes JIRA Cloud gives them: issues with their status, status category,
resolution and links, error bodies, and descriptions as wiki text (v2) or Atlassian
Document Format (v3).

Part of a demo fake (loom.demo.fakes), not for production."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

NOT_FOUND = "Issue does not exist or you do not have permission to see it."
#: status name → (id, category id, category key, category name, colour)
STATUSES = {
    "To Do": ("10000", 2, "new", "To Do", "blue-gray"),
    "In Progress": ("3", 4, "indeterminate", "In Progress", "yellow"),
    "Done": ("10001", 3, "done", "Done", "green"),
}
TRANSITIONS = {"11": "To Do", "21": "In Progress", "31": "Done"}
RESOLUTIONS = {"Done": "10000", "Won't Do": "10001", "Duplicate": "10002"}
PRIORITIES = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
LINK_TYPES = {"Blocks": "10000", "Cloners": "10001", "Duplicate": "10002", "Relates": "10003"}
SET_BY_CREATE = {
    "project", "issuetype", "summary", "description", "labels", "components", "priority"
}  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


@dataclass
class Project:
    key: str
    id: str
    name: str
    issue_types: tuple[str, ...] = ("Task", "Story", "Bug", "Review")
    components: tuple[str, ...] = ()


@dataclass
class Issue:
    id: str
    key: str
    project: str
    issue_type: str
    summary: str
    description: Any
    labels: list[str]
    components: list[str]
    priority: str
    custom: dict[str, Any]
    status: str = "To Do"
    resolution: str | None = None
    created: str = field(default_factory=_now)

    def values(self) -> dict[str, list[str]]:
        """The issue's values of the fields JQL may ask about."""
        return {
            "labels": self.labels,
            "project": [self.project],
            "key": [self.key],
            "status": [self.status],
            "statuscategory": [STATUSES[self.status][3]],
        }

    def move(self, status: str, resolution: str | None) -> None:
        """A transition: done statuses carry a resolution (default Done), others none."""
        self.status = status
        done = STATUSES[status][2] == "done"
        self.resolution = (resolution or "Done") if done else None


def errors(messages: list[str], by_field: dict[str, str] | None = None) -> dict[str, Any]:
    """JIRA's error body."""
    return {"errorMessages": messages, "errors": by_field or {}}


def create_problems(
    fields: dict[str, Any], version: str, project: Project, custom_fields: set[str]
) -> dict[str, str]:
    """What JIRA says, field by field, about the fields of a create call (none: fine)."""
    problems: dict[str, str] = {}
    issue_type = (fields.get("issuetype") or {}).get("name")
    if not fields.get("issuetype"):
        problems["issuetype"] = "Specify an issue type"
    elif issue_type not in project.issue_types:
        problems["issuetype"] = "Specify a valid issue type"
    summary = fields.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        problems["summary"] = "You must specify a summary of the issue."
    elif len(summary) > 255:
        problems["summary"] = "Summary must be less than 255 characters."
    elif "\n" in summary or "\r" in summary:
        problems["summary"] = "The summary is invalid because it contains newline characters."
    description = fields.get("description")
    if description is not None and version == "3" and not is_adf(description):
        problems["description"] = (
            "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
        )
    if description is not None and version == "2" and not isinstance(description, str):
        problems["description"] = "Operation value must be a string"
    for label in fields.get("labels") or []:
        if not isinstance(label, str) or not label or any(c.isspace() for c in label):
            problems["labels"] = f"The label '{label}' contains spaces which is invalid."
    for component in fields.get("components") or []:
        if component.get("name") not in project.components:
            problems["components"] = f"Component name '{component.get('name')}' is not valid"
    priority = (fields.get("priority") or {}).get("name", "Medium")
    if priority not in PRIORITIES:
        problems["priority"] = f"Priority name '{priority}' is not valid"
    for name in fields:
        if name not in SET_BY_CREATE and name not in custom_fields:
            problems[name] = (
                f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
            )
    return problems


def status_json(base: str, name: str) -> dict[str, Any]:
    status_id, cat_id, cat_key, cat_name, colour = STATUSES[name]
    return {
        "self": f"{base}/rest/api/2/status/{status_id}",
        "description": "",
        "iconUrl": f"{base}/images/icons/statuses/generic.png",
        "name": name,
        "id": status_id,
        "statusCategory": {
            "self": f"{base}/rest/api/2/statuscategory/{cat_id}",
            "id": cat_id,
            "key": cat_key,
            "colorName": colour,
            "name": cat_name,
        },
    }


def issue_json(
    base: str,
    version: str,
    issue: Issue,
    project: Project,
    links: list[tuple[str, str, str]],
    wanted: Callable[[str], bool],
) -> dict[str, Any]:
    """An issue as GET /issue/{key} and search answer it, with only the `wanted` fields."""
    description = issue.description
    if version == "2" and is_adf(description):
        description = adf_text(description)
    elif version == "3" and isinstance(description, str):
        description = text_adf(description)
    resolution = issue.resolution
    every: dict[str, Any] = {
        "summary": issue.summary,
        "description": description,
        "labels": list(issue.labels),
        "status": status_json(base, issue.status),
        "resolution": None if resolution is None else {
            "self": f"{base}/rest/api/2/resolution/{RESOLUTIONS[resolution]}",
            "id": RESOLUTIONS[resolution], "description": "", "name": resolution,
        },
        "issuetype": {"id": "10001", "name": issue.issue_type, "subtask": False},
        "project": {"self": f"{base}/rest/api/2/project/{project.id}",
                    "id": project.id, "key": project.key, "name": project.name},
        "components": [{"name": name} for name in issue.components],
        "priority": {"id": PRIORITIES[issue.priority], "name": issue.priority},
        "issuelinks": links_json(issue.key, links),
        "created": issue.created,
        **issue.custom,
    }  # fmt: skip
    return {
        "expand": "renderedFields,names,schema,operations,editmeta,changelog",
        "id": issue.id,
        "self": f"{base}/rest/api/{version}/issue/{issue.id}",
        "key": issue.key,
        "fields": {name: value for name, value in every.items() if wanted(name)},
    }


def links_json(key: str, links: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """`issuelinks` of issue `key`: on the blocking issue the other one is the
    outwardIssue ("blocks"), on the blocked one the inwardIssue ("is blocked by")."""
    found = []
    for n, (kind, inward, outward) in enumerate(links):
        kind_json = {"id": LINK_TYPES[kind], "name": kind, "inward": "is blocked by",
                     "outward": "blocks"} if kind == "Blocks" else {"name": kind}  # fmt: skip
        if inward == key:
            found.append({"id": str(20000 + n), "type": kind_json,
                          "outwardIssue": {"key": outward}})  # fmt: skip
        elif outward == key:
            found.append({"id": str(20000 + n), "type": kind_json,
                          "inwardIssue": {"key": inward}})  # fmt: skip
    return found


def wanted_fields(names: list[str]) -> Callable[[str], bool]:
    """The `fields` parameter as a test: `*all`/`*navigable`, names, `-name` to drop."""
    chosen = {name for name in names if not name.startswith("-")}
    dropped = {name[1:] for name in names if name.startswith("-")}
    if chosen & {"*all", "*navigable"}:
        return lambda name: name not in dropped
    return lambda name: name in chosen and name not in dropped


def is_adf(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("type") == "doc"
        and value.get("version") == 1
        and isinstance(value.get("content"), list)
    )


def adf_text(node: Any) -> str:
    """Plain text of an ADF document (what v2 shows of a v3 description, roughly)."""
    if isinstance(node, dict):
        if node.get("type") == "text":
            return str(node.get("text", ""))
        if node.get("type") == "hardBreak":
            return "\n"
        inner = "".join(adf_text(child) for child in node.get("content", []))
        return inner + "\n" if node.get("type") in ("paragraph", "tableRow") else inner
    return ""


def text_adf(text: str) -> dict[str, Any]:
    paragraphs = [{"type": "paragraph", "content": [{"type": "text", "text": line}]}
                  for line in text.splitlines() if line]  # fmt: skip
    return {"type": "doc", "version": 1, "content": paragraphs}


def adf_texts(document: Any) -> Iterator[str]:
    """Every text node of an ADF document, for tests reading a v3 description."""
    if isinstance(document, dict):
        if document.get("type") == "text":
            yield str(document.get("text", ""))
        for child in document.get("content", []):
            yield from adf_texts(child)
