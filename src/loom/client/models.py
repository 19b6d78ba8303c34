"""The base of every response model: unknown fields are kept (a newer server may send
more), so a model dumped back to JSON shows everything the server said."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="allow")
