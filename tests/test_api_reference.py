"""The API reference (docs/api/) covers the public API, and the public API has docstrings.

Every name in ``autohub_core.__all__`` and in each autohub_core module's ``__all__`` (or, for a
module without one, each top-level name not starting with ``_``) must be rendered by a
``::: dotted.path`` mkdocstrings directive: its own, or one for the module that defines it.
Every public class, function and method must have a docstring, since that is what the
reference shows. Everything is read with ``ast``: nothing here imports torch or a plugin.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

import autohub_core

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "autohub_core"
API_DOCS = ROOT / "docs" / "api"

_DIRECTIVE = re.compile(r"^::: *(?P<path>[\w.]+) *\n(?P<options>(?:[ \t]+\S.*\n?|[ \t]*\n)*)", re.MULTILINE)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    """Every public module of autohub_core (private ones such as ``_io`` are skipped)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        if not any(part.startswith("_") for part in name.split(".")):
            found[name] = path
    return found


@cache
def tree(module: str) -> ast.Module:
    return ast.parse(modules()[module].read_text(encoding="utf-8"))


def _top_level(module: str) -> list[ast.stmt]:
    """Module statements, with the bodies of ``if`` blocks (``TYPE_CHECKING``) flattened in."""
    statements: list[ast.stmt] = []
    for node in tree(module).body:
        statements.extend([node, *node.body, *node.orelse] if isinstance(node, ast.If) else [node])
    return statements


def _defined(module: str) -> dict[str, ast.stmt]:
    """Names bound at module level by a def, class or assignment."""
    names: dict[str, ast.stmt] = {}
    for node in _top_level(module):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
    return names


def _imported(module: str) -> dict[str, str]:
    """Names imported at module level from other autohub_core modules: name -> source module."""
    names = {}
    for node in _top_level(module):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("autohub_core"):
            for alias in node.names:
                if alias.name != "*":
                    names[alias.asname or alias.name] = node.module
    return names


def _lazy_exports() -> dict[str, str]:
    """``autohub_core._EXPORTS`` (name -> module), read from the source."""
    for node in tree("autohub_core").body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "_EXPORTS":
            return ast.literal_eval(node.value)
    raise AssertionError("autohub_core/__init__.py has no _EXPORTS table")


def public_names(module: str) -> list[str]:
    """``__all__`` of ``module``, or its public top-level definitions when it has none."""
    if module == "autohub_core":
        return list(autohub_core.__all__)  # built at import time; importing autohub_core is cheap
    for node in tree(module).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return [name for name in _defined(module) if not name.startswith("_")]


def canonical(module: str, name: str) -> tuple[str, str] | None:
    """(defining module, name) for ``module.name``, following re-exports; None if undefined."""
    if name in _defined(module):
        return module, name
    source = _imported(module).get(name) or (_lazy_exports().get(name) if module == "autohub_core" else None)
    if source is None or source == module or source not in modules():
        return None
    return canonical(source, name)


def _members_option(options: str) -> list[str] | bool | None:
    """The ``members:`` option of a directive: a list, False (none), or None (not set)."""
    match = re.search(r"^\s*members:[ \t]*(?P<value>.*)$", options, re.MULTILINE)
    if match is None:
        return None
    value = match["value"].strip()
    if value in ("false", "False", "[]"):
        return False
    if value.startswith("["):
        return [item.strip().strip("'\"") for item in value.strip("[]").split(",") if item.strip()]
    if value:
        raise AssertionError(f"cannot read the members option {value!r}")
    items = []
    for line in options[match.end() :].splitlines()[1:]:  # a block list: "- name" lines
        item = re.fullmatch(r"\s*-\s*([\w.]+)\s*", line)
        if item is None:
            break
        items.append(item[1])
    return items


@cache
def directives() -> dict[str, list[str] | bool | None]:
    """Every ``::: path`` directive under docs/api: path -> its ``members`` option."""
    found: dict[str, list[str] | bool | None] = {}
    for page in sorted(API_DOCS.glob("**/*.md")):
        for match in _DIRECTIVE.finditer(page.read_text(encoding="utf-8")):
            found[match["path"]] = _members_option(match["options"])
    return found


def documented(module: str, name: str) -> bool:
    if f"{module}.{name}" in directives():
        return True
    if module not in directives():
        return False
    members = directives()[module]
    return members is None or (isinstance(members, list) and name in members)


def _public_api() -> list[str]:
    return [f"{module}.{name}" for module in modules() for name in public_names(module)]


def test_api_pages_exist() -> None:
    pages = {page.stem for page in API_DOCS.glob("*.md")}
    assert {"auto", "configuration", "modeling", "tokenization", "errors", "plugins", "hookspecs"} <= pages
    assert len(directives()) > 10
    assert "api/" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")


def test_top_level_exports_are_checked() -> None:
    assert "AutoModel" in public_names("autohub_core")
    assert {"autohub_core.errors", "autohub_core.hookspecs", "autohub_core.testing.suite"} <= set(modules())


@pytest.mark.parametrize("dotted", _public_api())
def test_public_name_is_in_the_api_reference(dotted: str) -> None:
    module, _, name = dotted.rpartition(".")
    where = canonical(module, name)
    assert where is not None, f"{dotted} is public (in __all__) but not defined anywhere in autohub_core"
    assert documented(module, name) or documented(*where), (
        f"{dotted} is not in the API reference: add '::: {'.'.join(where)}' to a page in docs/api/, "
        f"or '::: {where[0]}' if that module's page should show all of it"
    )


def _is_accessor(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A property setter/deleter or a typing overload: documented by its getter/implementation."""
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Attribute) and decorator.attr in ("setter", "deleter"):
            return True
        if getattr(decorator, "id", None) == "overload" or getattr(decorator, "attr", None) == "overload":
            return True
    return False


def _undocumented(module: str) -> list[str]:
    missing = []
    defined = _defined(module)
    for name in public_names(module):
        node = defined.get(name)
        if not isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if ast.get_docstring(node) is None:
            missing.append(f"{module}:{name}")
        if isinstance(node, ast.ClassDef):
            for member in node.body:
                if (
                    isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and not member.name.startswith("_")
                    and not _is_accessor(member)
                    and ast.get_docstring(member) is None
                ):
                    missing.append(f"{module}:{name}.{member.name}")
    return missing


@pytest.mark.parametrize("module", sorted(modules()))
def test_public_objects_have_docstrings(module: str) -> None:
    missing = list(_undocumented(module))
    assert not missing, f"public objects without a docstring (the API reference shows it): {missing}"
