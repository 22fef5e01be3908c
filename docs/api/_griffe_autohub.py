"""Griffe extension for the API reference (loaded by mkdocstrings from mkdocs.yml).

Static only: it rewrites what griffe read from the source, and imports nothing of autohub.

- reST roles in docstrings (``:class:`X```, ``:meth:`~a.b```) become code spans, and a
  ``::`` that opens a literal block becomes ``:``, so the docstrings render as Markdown;
- ``AutoModelFor<Task> = _make_auto_model_class("...", TASKS["..."])`` attributes get the
  docstring the class gets at runtime, and are labelled as classes;
- special methods without a docstring (``__repr__``, ``__eq__`` ...) are hidden.
"""

from __future__ import annotations

import ast
import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|mod|exc|obj|const):`(~?)([^`]+)`")
_LITERAL_BLOCK = re.compile(r"(\S)::\n\n", re.MULTILINE)
_AUTO_FACTORY = "_make_auto_model_class"


def _role(match: re.Match[str]) -> str:
    short, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


def _markdown(text: str) -> str:
    text = _ROLE.sub(_role, text)
    return _LITERAL_BLOCK.sub(r"\1:\n\n", text)


class AutohubDocstrings(griffe.Extension):
    """Make autohub's reST-flavoured docstrings render as Markdown (see the module docstring)."""

    def on_attribute_instance(
        self, *, node: ast.AST | griffe.ObjectNode, attr: griffe.Attribute, **kwargs: Any
    ) -> None:
        value = getattr(node, "value", None)
        if not (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == _AUTO_FACTORY
            and attr.docstring is None
        ):
            return
        task_node = value.args[1] if len(value.args) > 1 else None
        if isinstance(task_node, ast.Subscript) and isinstance(task_node.slice, ast.Constant):
            task = f"``TASKS[{task_node.slice.value!r}]``"
        elif isinstance(task_node, ast.Name) and task_node.id == "BASE_TASK":
            task = "``'base'`` (the base model, no head)"
        else:
            task = "its task"
        attr.docstring = griffe.Docstring(
            f"Instantiates the model class registered for the checkpoint's ``model_type`` and task {task}.\n\n"
            "A class (made by ``_make_auto_model_class``) with the classmethods ``from_pretrained``, "
            "``from_config`` and ``register`` (see *Shared classmethods* below).",
            parent=attr,
        )
        attr.labels.discard("module-attribute")
        attr.labels.add("class")

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._walk(pkg)

    def _walk(self, obj: griffe.Object) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _markdown(obj.docstring.value)
        for member in obj.members.values():
            if member.is_alias:
                continue
            if (
                member.is_function
                and member.parent is not None
                and member.parent.is_class
                and member.is_special
                and member.docstring is None
            ):
                member.public = False
            self._walk(member)
