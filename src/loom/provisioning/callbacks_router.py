"""The callback endpoint: an outside system completes or fails the waiting `callback`
task its URL names. Public: the signed, single-use token in the path is the credential
(see loom.provisioning.callbacks)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from loom.api.deps import RuntimeDep, SessionDep
from loom.provisioning import callbacks
from loom.provisioning.dispatch import enqueue_for
from loom.provisioning.wait_schemas import CallbackReport

router = APIRouter(prefix="/callbacks", tags=["callbacks"])


@router.post("/{token}")
async def callback(
    token: Annotated[str, Path(max_length=2000)],
    body: CallbackReport,
    session: SessionDep,
    runtime: RuntimeDep,
) -> dict[str, str]:
    """Report the outcome of a callback task: `{"status": "success", "outputs": {...}}`
    (exactly the outputs the task declares) or `{"status": "failure", "error": "..."}`.
    A forged token is 401; an expired or already used one 410."""
    report = callbacks.Report(body.status, body.outputs, body.error)
    async with session.begin():
        await callbacks.receive(session, runtime.settings, token, report, enqueue_for(runtime))
    return {"status": "accepted"}
