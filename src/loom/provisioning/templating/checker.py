"""The check of a parsed template: what the language refuses, pipe arguments known to
be wrong, and the rewrite of references and watched operations for the sandbox."""

from __future__ import annotations

import inspect
import typing
from functools import cache
from typing import Any

from jinja2 import nodes

from loom.provisioning.templating.errors import ParseError
from loom.provisioning.templating.lexer import underscore_message
from loom.provisioning.templating.pipes import PIPES
from loom.provisioning.templating.sandbox import LOOP_ATTRIBUTES, TESTS
from loom.provisioning.templating.template import Key, Reference

_REFUSED: dict[type[nodes.Node], str] = {
    nodes.Macro: "{% macro %}",
    nodes.CallBlock: "{% call %}",
    nodes.FilterBlock: "{% filter %}",
    nodes.With: "{% with %}",
    nodes.Block: "{% block %}",
    nodes.Extends: "{% extends %}",
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}",
    nodes.Assign: "{% set %}",
    nodes.AssignBlock: "{% set %}",
    nodes.ScopedEvalContextModifier: "{% autoescape %}",
    nodes.EvalContextModifier: "{% autoescape %}",
    nodes.Scope: "{% autoescape %}",
}
_SIMPLE = (
    nodes.Const, nodes.List, nodes.Tuple, nodes.Dict, nodes.Pair, nodes.Keyword, nodes.CondExpr,
    nodes.And, nodes.Or, nodes.Not, nodes.Neg, nodes.Pos, nodes.Compare, nodes.Operand,
    nodes.BinExpr, nodes.Slice, nodes.If, nodes.Output, nodes.TemplateData,
)  # fmt: skip


def _pipe_problem(name: str, args: list[nodes.Expr], kwargs: list[Any]) -> str | None:
    """Arguments a pipe cannot take (known before running it)."""
    signature, hints = _signature(name)
    try:
        bound = signature.bind(None, *args, **{k.key: k.value for k in kwargs})
    except TypeError as exc:
        return f"{name}: {exc}"
    for param, node in list(bound.arguments.items())[1:]:
        hint = hints.get(param, Any)
        if isinstance(node, nodes.Const) and hint is not Any:
            allowed = typing.get_args(hint) or (hint,)
            value = node.value
            if isinstance(value, bool) or not isinstance(
                value, tuple(a for a in allowed if isinstance(a, type))
            ):
                names = " or ".join(
                    "null" if a is type(None) else _TYPE_NAMES.get(a, str(a)) for a in allowed
                )
                return f"{name}: '{param}' must be {names}"
    return None


_TYPE_NAMES = {int: "a whole number", str: "text"}


@cache
def _signature(name: str) -> tuple[inspect.Signature, dict[str, Any]]:
    fn = PIPES[name]
    return inspect.signature(fn), typing.get_type_hints(fn)


class Checker:
    """Walks the syntax tree once: refuses what the language does not allow, collects
    the references and replaces each by an internal name, and wraps the operations the
    sandbox must watch (`~`, `{% for %}`, every `{{ }}` output)."""

    def __init__(self) -> None:
        self.references: list[Reference] = []
        self.names: dict[Reference, str] = {}
        self._in_json_string = False  # for the `json` format: is an output inside "..."?

    def template(self, tree: nodes.Template) -> nodes.Template:
        tree.body = [self.visit(node, frozenset()) for node in tree.body]
        return tree

    def _refuse(self, node: nodes.Node, message: str) -> typing.NoReturn:
        raise ParseError(message, node.lineno or 1)

    def visit(self, node: Any, bound: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [self.visit(child, bound) for child in node]
        if not isinstance(node, nodes.Node):
            return node
        if type(node) in _REFUSED:
            self._refuse(node, f"{_REFUSED[type(node)]} is not allowed: templates use "
                               "{{ expressions }}, {% if %} and {% for %}")  # fmt: skip
        if isinstance(node, nodes.Name | nodes.Getattr | nodes.Getitem):
            reference = self._reference(node)
            if reference is not None:
                return nodes.Name(self._name_of(reference), "load", lineno=node.lineno)
        if isinstance(node, nodes.Name):
            if node.name not in bound:
                self._refuse(node, f"unknown name '{node.name}' (values come from .current, "
                                   ".output, .metadata or .system)")  # fmt: skip
            return node
        if isinstance(node, nodes.Getattr):
            self._check_field(node, node.node, node.attr, bound)
        elif isinstance(node, nodes.Getitem):
            key = node.arg.value if isinstance(node.arg, nodes.Const) else None
            if isinstance(key, str):
                self._check_field(node, node.node, key, bound)
        elif isinstance(node, nodes.Call):
            self._refuse(node, "calling functions or methods is not allowed (use pipes: "
                               "{{ .current.name | upper }})")  # fmt: skip
        elif isinstance(node, nodes.Filter | nodes.Test):
            self._check_filter_or_test(node)
        elif isinstance(node, nodes.For):
            return self._for(node, bound)
        elif isinstance(node, nodes.Concat):
            parts = nodes.List(self.visit(node.nodes, bound), lineno=node.lineno)
            return nodes.Filter(parts, "_concat", [], [], None, None, lineno=node.lineno)
        elif isinstance(node, nodes.Output):
            node.nodes = [self._output(child, bound) for child in node.nodes]
            return node
        elif not isinstance(node, _SIMPLE):
            self._refuse(node, f"'{type(node).__name__}' is not allowed in templates")
        for name in node.fields:
            setattr(node, name, self.visit(getattr(node, name), bound))
        return node

    def _output(self, child: nodes.Expr, bound: frozenset[str]) -> nodes.Expr:
        if isinstance(child, nodes.TemplateData):
            self._scan_json(child.data)
            return child
        name = "_out_str" if self._in_json_string else "_out_value"
        expression = self.visit(child, bound)
        return nodes.Filter(expression, name, [], [], None, None, lineno=child.lineno)

    def _scan_json(self, text: str) -> None:
        escaped = False
        for char in text:
            if escaped:
                escaped = False
            elif char == "\\" and self._in_json_string:
                escaped = True
            elif char == '"':
                self._in_json_string = not self._in_json_string

    def _for(self, node: nodes.For, bound: frozenset[str]) -> nodes.For:
        if node.recursive:
            self._refuse(node, "recursive loops are not allowed")
        target = node.target
        names = [target] if isinstance(target, nodes.Name) else list(target.find_all(nodes.Name))
        inner = bound | {n.name for n in names} | {"loop"}
        iterable = self.visit(node.iter, bound)
        node.iter = nodes.Filter(iterable, "_iterate", [], [], None, None, lineno=node.lineno)
        node.test = self.visit(node.test, inner)
        node.body = self.visit(node.body, inner)
        node.else_ = self.visit(node.else_, bound)
        return node

    def _check_field(
        self, node: nodes.Node, base: nodes.Node, key: str, bound: frozenset[str]
    ) -> None:
        if key.startswith("_"):
            self._refuse(node, underscore_message(key))
        if isinstance(base, nodes.Literal):
            self._refuse(node, f"a literal value has no field '{key}'")
        is_loop = isinstance(base, nodes.Name) and base.name == "loop" and "loop" in bound
        if is_loop and key not in LOOP_ATTRIBUTES:
            self._refuse(node, f"loop has no '{key}' (known: {', '.join(sorted(LOOP_ATTRIBUTES))})")

    def _check_filter_or_test(self, node: nodes.Filter | nodes.Test) -> None:
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            self._refuse(node, f"'{node.name}': * and ** arguments are not allowed")
        if isinstance(node, nodes.Test):
            if node.name not in TESTS:
                self._refuse(node, f"unknown test '{node.name}' (known: {', '.join(TESTS)})")
            if node.args or node.kwargs:
                self._refuse(node, f"the test '{node.name}' takes no arguments")
            return
        if node.name not in PIPES:
            known = ", ".join(sorted(PIPES))
            self._refuse(node, f"unknown pipe '{node.name}' (known: {known})")
        problem = _pipe_problem(node.name, node.args, node.kwargs)
        if problem:
            self._refuse(node, problem)

    def _reference(self, node: nodes.Node) -> Reference | None:
        """The reference a chain of constant lookups on a namespace spells, if any."""
        keys: list[Key] = []
        while True:
            if isinstance(node, nodes.Getattr):
                keys.append(node.attr)
                node = node.node
            elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
                key = node.arg.value
                if isinstance(key, bool) or not isinstance(key, str | int):
                    return None
                keys.append(key)
                node = node.node
            elif isinstance(node, nodes.Name) and node.name.startswith("_"):
                break
            else:
                return None
        for key in keys:
            if isinstance(key, str) and key.startswith("_"):
                self._refuse(node, underscore_message(key))
        return Reference(node.name[1:], tuple(reversed(keys)), node.lineno or 1)

    def _name_of(self, reference: Reference) -> str:
        if reference not in self.names:
            self.names[reference] = f"_r{len(self.names)}"
            self.references.append(reference)
        return self.names[reference]
