"""Phase 1, `parse(source)` → `Template`: the syntax, and every construct outside the
small language refused with a `ParseError` naming its line."""

from __future__ import annotations

import re
from functools import lru_cache

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError

from loom.provisioning.templating.checker import Checker
from loom.provisioning.templating.errors import ParseError
from loom.provisioning.templating.lexer import Refused
from loom.provisioning.templating.limits import DEFAULT_LIMITS, MAX_DEPTH, Limits
from loom.provisioning.templating.sandbox import environment
from loom.provisioning.templating.template import Template, has_tags


def parse(source: str, limits: Limits = DEFAULT_LIMITS) -> Template:
    """Parse and check a template; `ParseError` names the problem and its line."""
    if len(source) > limits.max_template_chars:
        raise ParseError(f"the template is longer than {limits.max_template_chars} characters")
    return _parse(source)


_INTERNAL_NAME = re.compile(r"'_([^\W_]\w*)'")


@lru_cache(maxsize=8192)
def _parse(source: str) -> Template:
    if not has_tags(source):
        return Template(source)
    env = environment("text")
    try:
        tree = env.parse(source)
    except Refused as exc:
        raise ParseError(exc.message or "refused", exc.lineno) from None
    except TemplateSyntaxError as exc:  # jinja's words: '_current' is what `.current` became
        message = _INTERNAL_NAME.sub(r"'.\1'", exc.message or "syntax error")
        raise ParseError(message, exc.lineno) from None
    except RecursionError:
        raise ParseError("the template is nested too deeply") from None
    _check_depth(tree)
    checker = Checker()
    tree = checker.template(tree)
    tree.set_environment(env)
    single = (
        len(tree.body) == 1
        and isinstance(tree.body[0], nodes.Output)
        and len(tree.body[0].nodes) == 1
        and isinstance(tree.body[0].nodes[0], nodes.Filter)
    )
    expression = tree.body[0].nodes[0].node if single else None  # type: ignore[attr-defined]
    return Template(source, tuple(checker.references), single, tree, checker.names, expression)


def _check_depth(tree: nodes.Node) -> None:
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ParseError(
                f"the template is nested more than {MAX_DEPTH} levels deep", node.lineno
            )
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
