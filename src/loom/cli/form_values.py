"""Form values given on the command line: a YAML or JSON file (`--file`) and
`--set FIELD=VALUE` assignments (`group.field=VALUE` inside a group; a field set twice
becomes a list). Shared by `loom catalog check-input` and `loom request`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loom.cli.output import fail


def read_values(
    path: Path, *, option: str = "", holds: str = "a mapping of field ids to values"
) -> dict[str, Any]:
    """The mapping in a YAML or JSON file (empty for an empty file); failures name the
    `option` that gave the file, when there is one, and what the file should hold."""
    import yaml

    where = f"{option}: " if option else ""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{where}cannot read {path}: {exc}")
    except yaml.YAMLError as exc:
        fail(f"{where}{path} is not valid YAML: {exc}")
    if data is None:
        return {}
    if not isinstance(data, dict):
        fail(f"{where}{path} must hold {holds}")
    return data


def assign(data: dict[str, Any], assignment: str) -> None:
    """Apply one `--set a.b=value`: nested mappings for dotted paths; a field set twice
    becomes a list."""
    key, sep, value = assignment.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        fail(f"--set {assignment!r}: expected FIELD=VALUE (group.field=VALUE in a group)")
    target = data
    for depth, part in enumerate(parts[:-1]):
        child = target.setdefault(part, {})
        if not isinstance(child, dict):
            fail(f"--set {assignment!r}: {'.'.join(parts[: depth + 1])} is not a group")
        target = child
    last = parts[-1]
    if last not in target:
        target[last] = value
    elif isinstance(target[last], dict):
        fail(f"--set {assignment!r}: {key.strip()} is a group; set its fields")
    elif isinstance(target[last], list):
        target[last].append(value)
    else:
        target[last] = [target[last], value]
