"""Outputs of a GitHub Actions run read from one of its artifacts: a zip holding a JSON
object (`outputsFrom: {artifact: loom-outputs, file: outputs.json, keys: [...]}`), which
a workflow writes with `actions/upload-artifact`."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from loom.actions.base import ActionFailed
from loom.actions.builtin import GithubArtifactOutputs

#: The JSON file is read only up to this size (a zip may claim anything).
MAX_FILE_BYTES = 1_000_000


def read_outputs(archive: bytes | None, wanted: GithubArtifactOutputs) -> dict[str, Any]:
    """The outputs `wanted` names, from `archive` (None: the run has no such artifact).
    ActionFailed names what is missing or malformed."""
    if archive is None:
        raise ActionFailed(f"the run has no artifact named {wanted.artifact!r}")
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
            member = bundle.getinfo(wanted.file)
            if member.file_size > MAX_FILE_BYTES:
                raise ActionFailed(
                    f"{wanted.file} in artifact {wanted.artifact!r} is larger than "
                    f"{MAX_FILE_BYTES} bytes"
                )
            with bundle.open(member) as stream:
                text = stream.read(MAX_FILE_BYTES + 1)
    except KeyError:
        raise ActionFailed(f"artifact {wanted.artifact!r} has no file {wanted.file!r}") from None
    except zipfile.BadZipFile:
        raise ActionFailed(f"artifact {wanted.artifact!r} is not a zip archive") from None
    try:
        values = json.loads(text)
    except ValueError:
        raise ActionFailed(f"{wanted.file} in artifact {wanted.artifact!r} is not JSON") from None
    if not isinstance(values, dict):
        raise ActionFailed(f"{wanted.file} in artifact {wanted.artifact!r} is not a JSON object")
    if not wanted.keys:
        return values
    missing = [key for key in wanted.keys if key not in values]
    if missing:
        raise ActionFailed(
            f"{wanted.file} in artifact {wanted.artifact!r} lacks {', '.join(missing)}"
        )
    return {key: values[key] for key in wanted.keys}
