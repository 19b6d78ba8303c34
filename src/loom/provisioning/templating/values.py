"""What a reference gives when it has no value yet: `Missing` (nothing there) and
`Pending` (an output a later task will produce)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import Undefined

from loom.provisioning.templating.state import STATE


class Missing(Undefined):
    """A referenced value that does not exist: empty text plus a warning once it is
    rendered; attributes, items and operations on it give itself (never an exception)."""

    __slots__ = ()

    @property
    def path(self) -> str:
        return str(self._undefined_name or self._undefined_hint or "value")

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> Any:
        return self  # `.a.b` of a missing `.a`, `missing + 1`: still missing

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _fail_with_undefined_error
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = _fail_with_undefined_error
    __mod__ = __rmod__ = __pow__ = __rpow__ = __pos__ = __neg__ = _fail_with_undefined_error
    __lt__ = __le__ = __gt__ = __ge__ = __call__ = __getitem__ = _fail_with_undefined_error  # type: ignore[assignment]

    def __str__(self) -> str:
        state = STATE.get()
        if state is not None:
            state.warn(f"{self.path}: no value (rendered as empty text)")
        return ""


@dataclass(frozen=True)
class Pending:
    """An output a later task will produce: shown as a placeholder in request plans."""

    task: int
    key: str

    def __str__(self) -> str:
        return f"⟨known after task {self.task}: {self.key}⟩"

    def __iter__(self) -> Iterator[Pending]:
        yield self
