"""Variables in catalog templates: `{{ .current.db.name | upper }}`.

A template is text with `{{ expression }}` and `{% if %}`/`{% for %}` tags. References
start with a dot and a namespace: `.current` (form input), `.output` (outputs of earlier
tasks), `.metadata` (catalog metadata by item id) and `.system` (about the request and
the platform). Hyphenated names work inside references (`.metadata.postgres-database`).

Processing runs in four phases, each a function:

* `parse(source)` → `Template`: syntax, and every construct outside the small language
  refused (`ParseError` with the line);
* `validate(template, scope)` → problems: references to what does not exist at that
  place of the catalog (`.current.nope: no form field 'nope'`);
* `resolve(template, variables)` → `Resolved`: the value of every reference, a
  `Missing` stand-in, or a `Pending` "known after task N" placeholder;
* `transform(resolved)` → `RenderResult`: pipes applied and the text (or, for a lone
  expression, the object) produced, with warnings for missing values.

It runs on jinja2's `ImmutableSandboxedEnvironment`, with a lexer that turns the leading
dots into internal names, no globals, only Loom's pipes, every operator intercepted, no
attribute access outside mappings, and limits on size and time. Nothing is ever `eval`ed.

Modules: `parsing` (with `lexer`, `checker`, `template`), `validation`, `resolution`,
`rendering` (with `output`, `sandbox`, `state`), `configs` (whole action configs),
`pipes`, `namespaces`, `values`, `limits`, `errors`. This package exports the public API.
"""

from __future__ import annotations

from loom.provisioning.templating.configs import fit_strings, render_config
from loom.provisioning.templating.errors import ParseError, RenderError, TemplateError
from loom.provisioning.templating.limits import DEFAULT_LIMITS, Limits
from loom.provisioning.templating.namespaces import Variables, system_values
from loom.provisioning.templating.output import Format
from loom.provisioning.templating.parsing import parse
from loom.provisioning.templating.rendering import RenderResult, render, transform
from loom.provisioning.templating.resolution import Resolved, resolve
from loom.provisioning.templating.template import Key, Reference, Template, has_tags
from loom.provisioning.templating.validation import check, install, validate
from loom.provisioning.templating.values import Missing, Pending

__all__ = [
    "DEFAULT_LIMITS",
    "Format",
    "Key",
    "Limits",
    "Missing",
    "ParseError",
    "Pending",
    "Reference",
    "RenderError",
    "RenderResult",
    "Resolved",
    "Template",
    "TemplateError",
    "Variables",
    "check",
    "fit_strings",
    "has_tags",
    "install",
    "parse",
    "render",
    "render_config",
    "resolve",
    "system_values",
    "transform",
    "validate",
]
