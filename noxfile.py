"""Developer sessions: `nox -s tests` (everything), `plugins` (each plugin alone), `lint`, `docs`, `bench`.

torch is pinned by constraints.txt to the CPU build used in development and CI; the
packages themselves only ask for ``torch>=2.2``.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests", "plugins"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
CONSTRAINTS = ("-c", str(ROOT / "constraints.txt"))
PLUGINS = sorted(str(path.parent.relative_to(ROOT)) for path in ROOT.glob("plugins/*/pyproject.toml"))
EXAMPLES = sorted(str(path.parent.relative_to(ROOT)) for path in ROOT.glob("examples/*/pyproject.toml"))


def _install_base(session: nox.Session) -> None:
    session.install(*CONSTRAINTS, "torch==2.13.0")
    session.install(*CONSTRAINTS, "-e", ".", "-r", "requirements-test.txt")


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite: core, every plugin and example, parity against transformers."""
    _install_base(session)
    editable = [arg for path in [*PLUGINS, *EXAMPLES] for arg in ("-e", path)]
    session.install(*CONSTRAINTS, *editable)
    session.run("pytest", *(session.posargs or ["-q"]))


@nox.session
def plugins(session: nox.Session) -> None:
    """Each plugin alone on top of the core, in turn, in one fresh virtualenv (the CI variant).

    The previous plugin is uninstalled before the next is installed with its declared
    dependencies, so each runs with core + itself only; ``plugin`` sessions do the same with
    one virtualenv per plugin.
    """
    _install_base(session)
    installed = session.run("python", "-m", "pip", "list", "--format=freeze", silent=True) or ""
    stale = [
        line.split("==")[0]
        for line in installed.splitlines()
        if line.lower().startswith("autohub-") and "core" not in line
    ]
    if stale:
        session.run("python", "-m", "pip", "uninstall", "-y", *stale)
    for plugin in PLUGINS:
        distribution = Path(plugin).name
        session.install(*CONSTRAINTS, "-e", plugin)
        session.run("pytest", "-q", f"{plugin}/tests")
        session.run("python", "-m", "pip", "uninstall", "-y", distribution)


@nox.session
@nox.parametrize("plugin", [Path(path).name for path in PLUGINS])
def plugin(session: nox.Session, plugin: str) -> None:
    """One plugin alone in its own fresh virtualenv: core + that plugin + test tools."""
    _install_base(session)
    session.install(*CONSTRAINTS, "-e", f"plugins/{plugin}")
    session.run("pytest", "-q", f"plugins/{plugin}/tests")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    session.install("ruff==0.17.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation in strict mode."""
    session.install("mkdocs>=1.6", "mkdocstrings[python]>=1.0", "mkdocstrings-python>=2.0")
    session.run("mkdocs", "build", "--strict", "--site-dir", str(Path(session.create_tmp()) / "site"))


@nox.session
def bench(session: nox.Session) -> None:
    """Side-by-side benchmarks against transformers."""
    _install_base(session)
    editable = [arg for path in PLUGINS for arg in ("-e", path)]
    session.install(*CONSTRAINTS, *editable)
    session.run("python", "benchmarks/run.py", *session.posargs)
