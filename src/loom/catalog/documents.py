"""The two catalog document kinds, CatalogItem and CatalogBundle, as pydantic models.

These models check structure and types (unknown keys are errors); the rules that need a
whole document or the whole catalog (references, cycles, regexes...) live in `rules.py`.
YAML keys are camelCase (`minLength`, `visibleIf`, `dependsOn`); the Python names are
snake_case. The JSON Schema published to editors is generated from these models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

API_VERSION = "loom/v1"

Slug = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", max_length=63)
]
#: Form field and action ids appear in templates (`{{.current.db_name}}`): identifiers only.
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,62}$")]

FieldType = Literal[
    "string", "text", "integer", "number", "boolean", "enum", "multi-enum",
    "email", "url", "date", "secret", "group",
]  # fmt: skip


class _Doc(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True
    )


class Condition(_Doc):
    """When a field is shown or required. Exactly one form:
    `{field: a.b, equals: x}`, `notEquals`, `in: [..]`, `notIn: [..]`, `isSet: true|false`,
    or a combination `{all: [...]}`, `{any: [...]}`, `{not: {...}}`."""

    field: str | None = Field(default=None, description="Dotted path of another form field")
    equals: Any = None
    not_equals: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    not_in: list[Any] | None = None
    is_set: bool | None = None
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = Field(default=None, alias="not")


class Option(_Doc):
    value: str | int | float | bool
    label: str | None = None


class FormField(_Doc):
    id: Identifier
    type: FieldType
    title: str | None = None
    help: str | None = None
    placeholder: str | None = None
    required: bool = False
    default: Any = None
    pattern: str | None = Field(
        default=None, description="Regular expression the whole value must match"
    )
    min: float | None = None
    max: float | None = None
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=0)
    options: list[Option | str | int | float | bool] | None = None
    visible_if: Condition | None = None
    required_if: Condition | None = None
    fields: list[FormField] | None = Field(default=None, description="Nested fields of a group")

    def option_values(self) -> list[Any]:
        return [o.value if isinstance(o, Option) else o for o in self.options or []]

    def option_items(self) -> list[Option]:
        return [o if isinstance(o, Option) else Option(value=o) for o in self.options or []]


class Form(_Doc):
    fields: list[FormField] = Field(default_factory=list)


class Link(_Doc):
    title: str
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]


class Metadata(_Doc):
    id: Slug
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: str = ""
    category: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    version: Annotated[str, StringConstraints(min_length=1, max_length=50)] = "1.0.0"
    owner: str | None = Field(default=None, description="Owning team slug; else from CODEOWNERS")
    tags: list[Annotated[str, StringConstraints(min_length=1, max_length=50)]] = Field(
        default_factory=list
    )
    links: list[Link] = Field(default_factory=list)
    custom: dict[str, Any] = Field(default_factory=dict)


class Action(_Doc):
    id: Identifier
    type: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$")]
    description: str = ""
    config: dict[str, Any] = Field(default_factory=dict)
    outputs: list[Identifier] = Field(
        default_factory=list, description="Keys this action adds to the .output namespace"
    )


class Fulfillment(_Doc):
    actions: list[Action] = Field(min_length=1)


class Escalation(_Doc):
    """Where an escalated request's tasks of this item become JIRA tickets; empty keys
    fall back to the `integrations.escalation` settings."""

    instance: str = Field(default="", description="integrations.jira.<name>")
    project: str = Field(default="", description="Project key")
    issue_type: str = Field(default="", description="Issue type name (default: Task)")


class ItemSpec(_Doc):
    form: Form = Field(default_factory=Form)
    escalation: Escalation | None = Field(
        default=None, description="Where its escalated tasks become JIRA tickets"
    )
    approval: dict[str, Any] | None = Field(
        default=None,
        description="People approve before the actions run: the config of an `approval` "
        "action (teams, users, required, timeoutHours, autoApproveIf)",
    )
    fulfillment: Fulfillment


class CatalogItem(_Doc):
    api_version: Literal["loom/v1"]
    kind: Literal["CatalogItem"]
    metadata: Metadata
    spec: ItemSpec


class BundleComponent(_Doc):
    id: Identifier
    item: Slug
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        description="Values for the item's form fields: fixed, or templated from the bundle form",
    )
    depends_on: list[Identifier] = Field(default_factory=list)


class BundleSpec(_Doc):
    form: Form = Field(default_factory=Form)
    components: list[BundleComponent] = Field(min_length=1)


class CatalogBundle(_Doc):
    api_version: Literal["loom/v1"]
    kind: Literal["CatalogBundle"]
    metadata: Metadata
    spec: BundleSpec


Document = CatalogItem | CatalogBundle
KINDS: dict[str, type[CatalogItem] | type[CatalogBundle]] = {
    "CatalogItem": CatalogItem,
    "CatalogBundle": CatalogBundle,
}


def json_schemas() -> dict[str, Any]:
    """JSON Schemas of both kinds, for editors validating YAML as people type."""
    return {
        kind: model.model_json_schema(by_alias=True, mode="validation")
        for kind, model in KINDS.items()
    }
