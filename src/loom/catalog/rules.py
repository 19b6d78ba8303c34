"""The rules a structurally valid document must also follow: sound form fields, valid
regular expressions, conditions on fields that exist, known action types with valid
configs, and templates that refer only to values that will exist. Each rule yields
(path, message) so the loader can point at the line."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any

import regex
from pydantic import ValidationError

from loom.actions.registry import action_types
from loom.catalog.conditions import referenced_fields, shape_problems
from loom.catalog.documents import CatalogBundle, CatalogItem, Condition, Form, FormField
from loom.catalog.form_input import check_value, compile_pattern
from loom.catalog.forms import field_paths, walk
from loom.catalog.references import (
    SYSTEM_KEYS_OF_TYPE,
    TemplateScope,
    check_template,
    references,
    strings_in,
)

Path = tuple[str | int, ...]
Finding = tuple[Path, str]

#: spec.approval becomes a task of this type and id before the item's actions.
APPROVAL_ACTION_TYPE = APPROVAL_ACTION_ID = "approval"
_TEXT_TYPES = {"string", "text", "email", "url", "secret"}
_NUMBER_TYPES = {"integer", "number"}
_CHOICE_TYPES = {"enum", "multi-enum"}


def validation_message(err: Mapping[str, Any]) -> str:
    """A pydantic error in the words used for every catalog problem."""
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "missing":
        return "is required"
    return str(err["msg"]).removeprefix("Value error, ")  # our validators' own words


_PRIMITIVE_TAGS = {"str": "text", "int": "a whole number", "float": "a number", "bool": "a boolean"}


def _union_tag(part: object) -> bool:
    # pydantic names the member of a union an error belongs to: a primitive type name
    # or a model class name (loc parts that can never be catalog field names).
    return isinstance(part, str) and (part in _PRIMITIVE_TAGS or part[:1].isupper())


def collapse_union_errors(errors: Sequence[Mapping[str, Any]]) -> list[tuple[Path, str]]:
    """(path, message) of pydantic errors, with a union's per-member errors folded into
    the ones that matter: those inside the member the value was meant to be (it is a
    mapping and a model accepts mappings), else one "must be ..." line."""
    grouped: dict[Path, list[tuple[Path, Mapping[str, Any]]]] = {}
    plain: list[tuple[Path, str]] = []
    for err in errors:
        loc = tuple(err["loc"])
        cut = next((i for i, part in enumerate(loc) if _union_tag(part)), None)
        if cut is None:
            plain.append((loc, validation_message(err)))
        else:
            grouped.setdefault(loc[:cut], []).append((loc[cut:], err))
    for prefix, members in grouped.items():
        inside = [
            (rest, err) for rest, err in members if str(rest[0])[:1].isupper() and len(rest) > 1
        ]
        if inside:
            plain.extend(((*prefix, *rest[1:]), validation_message(err)) for rest, err in inside)
            continue
        kinds = list(
            dict.fromkeys(_PRIMITIVE_TAGS.get(str(r[0]), f"a mapping ({r[0]})") for r, _ in members)
        )
        either = ", ".join(kinds[:-1]) + " or " + kinds[-1] if len(kinds) > 1 else kinds[0]
        plain.append((prefix, f"must be {either}"))
    return plain


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


@lru_cache(maxsize=1024)
def _pattern_problem(pattern: str) -> str | None:
    # Kept apart from the generator below (an exception held across its `yield` would tie
    # the generator's frame and the traceback in a reference cycle) and cached (regex
    # leaves such a cycle itself when it refuses a pattern).
    try:
        compile_pattern(pattern)
    except regex.error as exc:
        return f"not a valid regular expression ({exc})"
    return None


def _field_findings(f: FormField, at: Path) -> Iterator[Finding]:
    if f.type == "group":
        if not f.fields:
            yield (*at, "fields"), "a group needs at least one nested field"
        for attr in ("options", "pattern", "default", "min", "max"):
            if getattr(f, attr) is not None:
                yield (*at, attr), f"a group cannot have '{attr}'"
        return
    if f.fields is not None:
        yield (*at, "fields"), f"only a group has nested fields (this is a {f.type})"
    if f.type in _CHOICE_TYPES:
        values = f.option_values()
        if not values:
            yield (*at, "options"), f"{f.type} fields need options"
        elif len({str(v) for v in values}) != len(values):
            yield (*at, "options"), "options must be unique"
    elif f.options is not None:
        yield (*at, "options"), f"only enum and multi-enum fields have options (this is a {f.type})"
    if f.pattern is not None:
        if f.type not in _TEXT_TYPES:
            yield (*at, "pattern"), f"a pattern applies to text fields, not {f.type}"
        problem = _pattern_problem(f.pattern)
        if problem:
            yield (*at, "pattern"), problem
            return
    if (f.min is not None or f.max is not None) and f.type not in _NUMBER_TYPES:
        yield (*at, "min" if f.min is not None else "max"), "min/max apply to numbers"
    if f.min is not None and f.max is not None and f.min > f.max:
        yield (*at, "min"), f"min ({_num(f.min)}) is greater than max ({_num(f.max)})"
    if f.min_length is not None and f.max_length is not None and f.min_length > f.max_length:
        yield (*at, "minLength"), "minLength is greater than maxLength"
    if f.default is not None and f.type != "secret":
        _value, issue = check_value(f, f.default)
        if issue is not None:
            yield (*at, "default"), f"default {f.default!r} {issue}"
    elif f.default is not None:
        yield (*at, "default"), "a secret field cannot have a default"


def _condition_findings(
    condition: Condition, at: Path, own_path: str, known: Mapping[str, FormField]
) -> Iterator[Finding]:
    for rel, issue in shape_problems(condition):
        yield at, f"{rel.lstrip('.')}: {issue}" if rel else issue
    for ref in referenced_fields(condition):
        if ref not in known:
            yield at, f"refers to unknown field '{ref}'"
        elif ref == own_path:
            yield at, "a field's condition cannot refer to the field itself"


def form_findings(
    form: Form, at: Path, known: Mapping[str, FormField] | None = None
) -> Iterator[Finding]:
    """Problems of a form; `known` is its `field_paths`, when the caller has them."""
    known = field_paths(form) if known is None else known
    yield from _form_level(form.fields, (*at, "fields"), known, "")
    yield from _visibility_cycle(form.fields, (*at, "fields"))


def _visibility_cycle(fields: list[FormField], at: Path) -> Iterator[Finding]:
    """Fields whose visibleIf depend on each other (a shown only without b, b only without
    a) have no meaning: which one is hidden would depend on the evaluation order."""
    graph: dict[str, list[str]] = {}
    where: dict[str, Path] = {}  # the visibleIf of each field that has one
    _visibility_graph(fields, at, None, graph, where)
    cycle = find_cycle(graph)
    if cycle:
        first = next(p for p in cycle if p in where)  # a cycle needs at least one condition
        yield where[first], f"visibleIf conditions depend on each other: {' → '.join(cycle)}"


def _visibility_graph(
    level: list[FormField],
    at: Path,
    parent: str | None,
    graph: dict[str, list[str]],
    where: dict[str, Path],
) -> None:
    # A module-level function, not a closure calling itself: that would be a reference
    # cycle left for the garbage collector on every document.
    for i, f in enumerate(level):
        path = f"{parent}.{f.id}" if parent else f.id
        refs = list(referenced_fields(f.visible_if)) if f.visible_if else []
        graph[path] = [r for r in refs if r != path] + ([parent] if parent else [])
        if f.visible_if is not None:
            where[path] = (*at, i, "visibleIf")
        if f.type == "group" and f.fields:
            _visibility_graph(f.fields, (*at, i, "fields"), path, graph, where)


def _form_level(
    fields: list[FormField], at: Path, known: Mapping[str, FormField], prefix: str
) -> Iterator[Finding]:
    seen: set[str] = set()
    for i, f in enumerate(fields):
        here = (*at, i)
        if f.id in seen:
            yield (*here, "id"), f"duplicate field id '{f.id}'"
        seen.add(f.id)
        yield from _field_findings(f, here)
        path = f"{prefix}{f.id}"
        for attr, condition in (("visibleIf", f.visible_if), ("requiredIf", f.required_if)):
            if condition is not None:
                yield from _condition_findings(condition, (*here, attr), path, known)
        if f.type == "group" and f.fields:
            yield from _form_level(f.fields, (*here, "fields"), known, f"{path}.")


def _config_findings(
    action_type: str, config: dict[str, Any], at: Path, config_at: Path | None = None
) -> Iterator[Finding]:
    """Problems of an action's config (at `config_at`, default `at`.config)."""
    config_at = (*at, "config") if config_at is None else config_at
    registered = action_types().get(action_type)
    if registered is None:
        known = ", ".join(sorted(action_types()))
        yield (*at, "type"), f"unknown action type '{action_type}' (known: {known})"
        return
    try:
        registered.config_model.model_validate(config)
    except ValidationError as exc:
        for err in exc.errors():
            yield (*config_at, *err["loc"]), validation_message(err)


def _type_bound(text: str, action_type: str) -> Iterator[str]:
    """System values this action type does not have (`.system.callbackUrl` outside a
    callback action)."""
    if not any(key in text for key in SYSTEM_KEYS_OF_TYPE):  # cheap: nearly always
        return
    for namespace, path in references(text):
        wanted = SYSTEM_KEYS_OF_TYPE.get(path) if namespace == "system" else None
        if wanted is not None and wanted != action_type:
            yield f".system.{path}: only a {wanted} action has one"


def item_findings(
    item: CatalogItem, metadata: Mapping[str, Mapping[str, Any]]
) -> Iterator[Finding]:
    fields = field_paths(item.spec.form)
    yield from form_findings(item.spec.form, ("spec", "form"), fields)
    current = set(fields)
    produced: dict[str, str] = {}
    seen: set[str] = set()
    if item.spec.approval is not None:
        yield from _approval_findings(item.spec.approval, current, metadata)
        seen.add(APPROVAL_ACTION_ID)
    for i, action in enumerate(item.spec.fulfillment.actions):
        at: Path = ("spec", "fulfillment", "actions", i)
        if action.id == APPROVAL_ACTION_ID and item.spec.approval is not None:
            yield (*at, "id"), f"action id '{action.id}' is the task of spec.approval"
        elif action.id in seen:
            yield (*at, "id"), f"duplicate action id '{action.id}'"
        seen.add(action.id)
        yield from _config_findings(action.type, action.config, at)
        scope = TemplateScope(current=current, outputs=set(produced), metadata=metadata)
        for sub, text in strings_in(action.config):
            for problem in (*check_template(text, scope), *_type_bound(text, action.type)):
                yield (*at, "config", *sub), problem
        for j, key in enumerate(action.outputs):
            if key in produced:
                yield (
                    (*at, "outputs", j),
                    f"output '{key}' is already produced by '{produced[key]}'",
                )
            produced[key] = action.id


def _approval_findings(
    approval: dict[str, Any], current: set[str], metadata: Mapping[str, Mapping[str, Any]]
) -> Iterator[Finding]:
    """spec.approval: an `approval` action's config, before the item's actions."""
    at: Path = ("spec", "approval")
    yield from _config_findings(APPROVAL_ACTION_TYPE, approval, at, at)
    scope = TemplateScope(current=current, outputs=set(), metadata=metadata)
    for sub, text in strings_in(approval):
        for problem in (*check_template(text, scope), *_type_bound(text, APPROVAL_ACTION_TYPE)):
            yield (*at, *sub), problem


def bundle_findings(
    bundle: CatalogBundle,
    items: Mapping[str, CatalogItem],
    metadata: Mapping[str, Mapping[str, Any]],
) -> Iterator[Finding]:
    shared = field_paths(bundle.spec.form)
    yield from form_findings(bundle.spec.form, ("spec", "form"), shared)
    components = bundle.spec.components
    ids = [c.id for c in components]
    for i, component in enumerate(components):
        at: Path = ("spec", "components", i)
        if ids.count(component.id) > 1 and ids.index(component.id) != i:
            yield (*at, "id"), f"duplicate component id '{component.id}'"
        for j, dep in enumerate(component.depends_on):
            if dep not in ids:
                yield (*at, "dependsOn", j), f"no component '{dep}' in this bundle"
            elif dep == component.id:
                yield (*at, "dependsOn", j), "a component cannot depend on itself"
        item = items.get(component.item)
        if item is None:
            yield (*at, "item"), f"unknown catalog item '{component.item}'"
            continue
        item_fields = field_paths(item.spec.form)
        scope = TemplateScope(current=set(shared), outputs=set(), metadata=metadata)
        inputs = dict(_flat_inputs(component.inputs, item_fields))
        for path, (where, value) in inputs.items():
            yield from _input_findings(
                item, item_fields.get(path), path, value, (*at, "inputs", *where), scope
            )
        conditional = _conditionally_shown(item.spec.form.fields)
        for path, f in walk(item.spec.form.fields):
            provided = path in inputs or path in shared or f.default is not None
            if f.required and f.type != "group" and path not in conditional and not provided:
                yield (
                    (*at, "inputs"),
                    (
                        f"required field '{path}' of item '{item.metadata.id}' is not provided "
                        "(add it to the bundle form or to this component's inputs)"
                    ),
                )
    # a self-dependency is reported above, not again as a cycle
    cycle = find_cycle({c.id: [d for d in c.depends_on if d != c.id] for c in components})
    if cycle:
        yield ("spec", "components"), f"dependency cycle: {' → '.join(cycle)}"


def _flat_inputs(
    inputs: Mapping[str, Any], fields: Mapping[str, FormField], prefix: str = "", where: Path = ()
) -> Iterator[tuple[str, tuple[Path, Any]]]:
    """(field path, (location in the document, value)) of every input; a mapping given
    for a group field stands for its nested fields (`db: {name: x}` is `db.name: x`)."""
    for key, value in inputs.items():
        path = f"{prefix}{key}"
        field = fields.get(path)
        if field is not None and field.type == "group" and isinstance(value, Mapping):
            yield from _flat_inputs(value, fields, f"{path}.", (*where, str(key)))
        else:
            yield path, ((*where, str(key)), value)


def _input_findings(
    item: CatalogItem,
    field: FormField | None,
    path: str,
    value: Any,
    at: Path,
    scope: TemplateScope,
) -> Iterator[Finding]:
    if field is None:
        yield at, f"item '{item.metadata.id}' has no form field '{path}'"
        return
    templated = False
    for sub, text in strings_in(value):
        templated = templated or "{{" in text or "{%" in text
        for problem in check_template(text, scope):
            if not problem.startswith(".output."):  # earlier components' outputs: run time
                yield (*at, *sub), problem
    if field.type == "secret" and not templated:
        yield at, "a secret cannot be written into the catalog: template it from the bundle form"
    elif not templated:
        _value, issue = check_value(field, value)
        if issue is not None:
            yield at, f"{value!r} {issue} (field '{path}' of item '{item.metadata.id}')"


def _conditionally_shown(fields: list[FormField], prefix: str = "") -> set[str]:
    """Paths of the fields that a visibleIf of their own or of a group around them hides."""
    paths: set[str] = set()
    for f in fields:
        path = f"{prefix}{f.id}"
        if f.visible_if is not None:
            paths.update(p for p, _ in walk([f], prefix))
        elif f.type == "group" and f.fields:
            paths.update(_conditionally_shown(f.fields, f"{path}."))
    return paths


def find_cycle(graph: Mapping[str, list[str]]) -> list[str] | None:
    """One cycle of the dependency graph as a path (a → b → a), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []
    for node in graph:
        if state.get(node) is None:
            found = _cycle_from(node, graph, state, stack)
            if found:
                return found
    return None


def _cycle_from(
    node: str, graph: Mapping[str, list[str]], state: dict[str, int], stack: list[str]
) -> list[str] | None:
    """Depth-first from `node` (state: 1 on the stack, 2 done)."""
    state[node] = 1
    stack.append(node)
    for dep in graph.get(node, []):
        if dep not in graph:
            continue
        if state.get(dep) == 1:
            return [*stack[stack.index(dep) :], dep]
        if state.get(dep) is None:
            found = _cycle_from(dep, graph, state, stack)
            if found:
                return found
    stack.pop()
    state[node] = 2
    return None


def dependency_order(graph: Mapping[str, list[str]]) -> list[str]:
    """Components in an order where each comes after what it depends on (stable)."""
    done: list[str] = []
    placed: set[str] = set()
    while len(done) < len(graph):
        progressed = False
        for node, deps in graph.items():
            if node not in placed and all(d in placed or d not in graph for d in deps):
                done.append(node)
                placed.add(node)
                progressed = True
        if not progressed:
            raise ValueError("dependency cycle")
    return done
