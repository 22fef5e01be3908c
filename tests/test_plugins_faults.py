"""Plugin faults and conflicts, with REAL throw-away distributions.

Each test writes ``<name>-0.1.dist-info/`` (METADATA + entry_points.txt in the ``autohub``
group) and the plugin module into a temporary directory, then runs a fresh Python with that
directory on ``sys.path``: discovery finds the plugins through importlib.metadata exactly as
it finds pip-installed ones. Nothing about discovery is monkeypatched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

FAULTY_PLUGINS: dict[str, str] = {
    # entry-point name -> plugin module source
    "fault-import": "raise RuntimeError('boom at import')\n",
    "fault-hook": """
        from autohub_core.hookspecs import hookimpl

        @hookimpl
        def autohub_register_configs(register):
            register("faulty", "fault_hook:Nothing")

        @hookimpl
        def autohub_register_models(register):
            raise ValueError("hook exploded")
    """,
    "fault-type": """
        from autohub_core.hookspecs import hookimpl

        @hookimpl
        def autohub_register_configs(register):
            register(123, "fault_type:Config")
    """,
    "fault-target": """
        from autohub_core.hookspecs import hookimpl

        @hookimpl
        def autohub_register_configs(register):
            register("garbage", "not a target!")
    """,
    "fault-arity": """
        from autohub_core.hookspecs import hookimpl

        @hookimpl
        def autohub_register_heads(register):
            register("bert", "masked-lm")
    """,
    "fault-signature": """
        from autohub_core.hookspecs import hookimpl

        @hookimpl
        def autohub_register_configs(callback):
            callback("sig", "fault_signature:Config")
    """,
    "fault-ghost": """
        from autohub_core.hookspecs import hookimpl

        @hookimpl
        def autohub_register_configs(register):
            register("ghost", "module_that_does_not_exist_xyz:GhostConfig")
    """,
    # BaseExceptions: none may end the process that discovers or resolves plugins.
    "fault-exit-import": "import sys\nsys.exit(3)\n",
    "fault-interrupt-import": "raise KeyboardInterrupt\n",
    "fault-exit-hook": """
        import sys
        from autohub_core.hookspecs import hookimpl

        @hookimpl
        def autohub_register_configs(register):
            register("exithook", "fault_exit_hook:Nothing")

        @hookimpl
        def autohub_register_heads(register):
            sys.exit()
    """,
    "fault-custom-hook": """
        from autohub_core.hookspecs import hookimpl

        class PluginMeltdown(BaseException):
            pass

        @hookimpl
        def autohub_register_tokenizers(register):
            raise PluginMeltdown("custom base exception in a hook")
    """,
    "fault-lazy": """
        from autohub_core.configuration import PretrainedConfig
        from autohub_core.hookspecs import hookimpl

        class LazyModelConfig(PretrainedConfig):
            model_type = "lazy-model"

        @hookimpl
        def autohub_register_models(register):
            register("lazy-model", "fault_lazy_exit:LazyModel")

        @hookimpl
        def autohub_register_configs(register):
            register("lazy-model", "fault_lazy:LazyModelConfig")
            register("lazy-exit", "fault_lazy_exit:ExitConfig")
            register("lazy-interrupt", "fault_lazy_interrupt:InterruptConfig")
            register("lazy-custom", "fault_lazy_custom:CustomConfig")
            register("lazy-getattr", "fault_lazy_getattr:GetattrConfig")
    """,
}
# Modules only imported when a class the "fault-lazy" plugin declares is first resolved.
LAZY_MODULES = {
    "fault_lazy_exit": "import sys\nsys.exit('modeling module exits')\n",
    "fault_lazy_interrupt": "raise KeyboardInterrupt('interrupt from modeling')\n",
    "fault_lazy_custom": "class Doom(BaseException):\n    pass\n\nraise Doom('custom doom')\n",
    "fault_lazy_getattr": "import sys\n\ndef __getattr__(name):\n    sys.exit(5)\n",
}
LAZY_FAULTS = {
    "lazy-exit": "SystemExit: modeling module exits",
    "lazy-interrupt": "KeyboardInterrupt: interrupt from modeling",
    "lazy-custom": "Doom: custom doom",
    "lazy-getattr": "SystemExit: 5",
}
# Entry points whose value is itself the fault.
BROKEN_ENTRY_POINTS = {
    "fault-missing": "module_that_does_not_exist_abc",
    "fault-attribute": "fault_attribute:not_a_module",
}
FAILING = [
    *(name for name in FAULTY_PLUGINS if name not in ("fault-ghost", "fault-lazy")),
    *BROKEN_ENTRY_POINTS,
]

TINY_BERT = (
    "{'vocab_size': 99, 'hidden_size': 32, 'num_hidden_layers': 2, 'num_attention_heads': 4, "
    "'intermediate_size': 37, 'max_position_embeddings': 64}"
)

TOY_PLUGIN = """
    from autohub_core.configuration import PretrainedConfig
    from autohub_core.hookspecs import hookimpl

    class {cls}(PretrainedConfig):
        model_type = "{model_type}"

    @hookimpl
    def autohub_register_configs(register):
        register("{model_type}", "{module}:{cls}")
"""

PROBE_HEAD = """
import json, warnings
warnings.simplefilter("always")
from autohub_core.plugins import get_registry, list_plugins
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    plugins = list_plugins()
registry = get_registry()
result = {
    "plugins": {p.name: {"error": p.error, "distribution": p.distribution, "declared": len(p.declarations)}
                for p in plugins},
    "warnings": [str(w.message) for w in caught],
    "conflicts": list(registry.conflicts),
}
"""


def _module_name(entry_point: str) -> str:
    return entry_point.replace("-", "_")


def install_distribution(
    root: Path, name: str, entry_points: dict[str, str], modules: dict[str, str]
) -> None:
    """Write a minimal installed distribution (dist-info + modules) into ``root``."""
    dist_info = root / f"{name.replace('-', '_')}-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = "".join(f"{ep} = {value}\n" for ep, value in entry_points.items())
    (dist_info / "entry_points.txt").write_text(f"[autohub]\n{lines}")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))


def run_probe(root: Path, body: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run PROBE_HEAD + ``body`` in a fresh interpreter with ``root`` on sys.path; return ``result``."""
    environment = {k: v for k, v in os.environ.items() if k != "AUTOHUB_PLUGINS"}
    environment["PYTHONPATH"] = os.pathsep.join([str(root), environment.get("PYTHONPATH", "")])
    environment.update(env or {})
    script = PROBE_HEAD + textwrap.dedent(body) + "\nprint('RESULT=' + json.dumps(result))\n"
    completed = subprocess.run(  # cwd: the '' entry of sys.path is ``root``, which only the test changes
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True, timeout=120, cwd=root
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    line = next(line for line in completed.stdout.splitlines() if line.startswith("RESULT="))
    return json.loads(line.removeprefix("RESULT="))


@pytest.fixture(scope="module")
def faulty_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("faulty-site")
    for name, source in FAULTY_PLUGINS.items():
        module = _module_name(name)
        install_distribution(root, f"autohub-{name}", {name: module}, {module: source})
    install_distribution(root, "autohub-fault-missing", BROKEN_ENTRY_POINTS, LAZY_MODULES)
    (root / "fault_attribute.py").write_text("def not_a_module():\n    pass\n")
    return root


@pytest.fixture(scope="module")
def faulty_result(faulty_site: Path) -> dict[str, Any]:
    return run_probe(
        faulty_site,
        f"""
        from autohub_core import AutoConfig, AutoModel, PluginError
        model = AutoModel.from_config(AutoConfig.for_model("bert", **{TINY_BERT}))
        result["bert_model"] = type(model).__name__
        result["known"] = registry.model_types("config")
        try:
            AutoConfig.for_model("ghost")
        except PluginError as error:
            result["ghost_error"] = str(error)
        result["lazy_errors"] = {{}}
        for model_type in {sorted(LAZY_FAULTS)!r}:
            for attempt in range(2):  # a failed resolution is not cached as a success
                try:
                    AutoConfig.for_model(model_type)
                except PluginError as error:
                    result["lazy_errors"][model_type] = str(error)
        try:
            AutoModel.from_config(AutoConfig.for_model("lazy-model"))
        except PluginError as error:
            result["lazy_model_error"] = str(error)
        result["still_alive"] = type(AutoConfig.for_model("bert")).__name__
        """,
    )


@pytest.mark.parametrize("name", FAILING)
def test_faulty_plugin_is_isolated_recorded_and_warned(name: str, faulty_result: dict[str, Any]) -> None:
    info = faulty_result["plugins"][name]
    assert info["error"], f"{name} should have failed"
    assert info["declared"] == 0, "a failing plugin contributes nothing (all or nothing)"
    assert any(repr(name) in message for message in faulty_result["warnings"])


def test_the_right_error_is_recorded_for_each_fault(faulty_result: dict[str, Any]) -> None:
    errors = {name: info["error"] for name, info in faulty_result["plugins"].items()}
    assert "boom at import" in errors["fault-import"]
    assert "hook exploded" in errors["fault-hook"]
    assert "123" in errors["fault-type"]
    assert "not a target!" in errors["fault-target"]
    assert "masked-lm" in errors["fault-arity"]
    assert "callback" in errors["fault-signature"]
    assert errors["fault-missing"].startswith("ModuleNotFoundError")
    assert "must name a module" in errors["fault-attribute"]
    assert errors["fault-exit-import"] == "SystemExit: 3"
    assert errors["fault-interrupt-import"] == "KeyboardInterrupt"
    assert errors["fault-exit-hook"] == "SystemExit"
    assert errors["fault-custom-hook"] == "PluginMeltdown: custom base exception in a hook"
    assert "exithook" not in faulty_result["known"]  # its config hook ran before the exit: discarded


@pytest.mark.parametrize("model_type", sorted(LAZY_FAULTS))
def test_a_base_exception_in_a_lazily_imported_module_is_a_plugin_error(
    model_type: str, faulty_result: dict[str, Any]
) -> None:
    """sys.exit(), KeyboardInterrupt or a custom BaseException raised while a declared class is
    imported (or read through a module ``__getattr__``) is a PluginError naming the plugin, the
    module and the class; the process goes on (the probe exits 0 and bert still resolves)."""
    message = faulty_result["lazy_errors"][model_type]
    module = "fault_" + model_type.replace("-", "_")
    assert "'fault-lazy'" in message and module in message and ":" in message
    assert LAZY_FAULTS[model_type] in message
    assert faulty_result["plugins"]["fault-lazy"]["error"] is None
    assert faulty_result["still_alive"] == "BertConfig"


def test_a_model_class_whose_module_exits_is_a_plugin_error_from_the_auto_class(
    faulty_result: dict[str, Any],
) -> None:
    message = faulty_result["lazy_model_error"]
    assert "model 'lazy-model'" in message and "'fault-lazy'" in message
    assert "fault_lazy_exit:LazyModel" in message and "SystemExit: modeling module exits" in message


def test_other_families_keep_working_next_to_faulty_plugins(faulty_result: dict[str, Any]) -> None:
    assert faulty_result["bert_model"] == "BertModel"
    assert faulty_result["plugins"]["bert"]["error"] is None
    assert "faulty" not in faulty_result["known"]  # fault-hook's config hook ran, but was discarded
    assert "garbage" not in faulty_result["known"] and "sig" not in faulty_result["known"]


def test_a_declared_class_that_cannot_be_imported_is_a_plugin_error(faulty_result: dict[str, Any]) -> None:
    assert faulty_result["plugins"]["fault-ghost"]["error"] is None  # lazy: discovery imports nothing
    assert "module_that_does_not_exist_xyz" in faulty_result["ghost_error"]


@pytest.fixture(scope="module")
def conflict_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("conflict-site")
    for name, cls in (("alpha", "AlphaToyConfig"), ("beta", "BetaToyConfig")):
        module = f"toy_{name}"
        source = TOY_PLUGIN.format(cls=cls, model_type="toy", module=module)
        install_distribution(root, f"autohub-toy-{name}", {name: module}, {module: source})
    rogue = TOY_PLUGIN.format(cls="RogueBertConfig", model_type="bert", module="zz_rogue")
    install_distribution(root, "autohub-zz-rogue", {"zz-rogue": "zz_rogue"}, {"zz_rogue": rogue})
    return root


CONFLICT_BODY = """
from autohub_core import AutoConfig
result["toy"] = type(AutoConfig.for_model("toy")).__name__
result["toy_source"] = registry.source("config", "toy")
result["loaded"] = sorted(result["plugins"])
"""


def test_two_plugins_claiming_one_model_type_deterministic_and_warned(conflict_site: Path) -> None:
    first = run_probe(conflict_site, CONFLICT_BODY + 'result["bert"] = registry.source("config", "bert")')
    second = run_probe(conflict_site, CONFLICT_BODY)
    assert first["toy"] == second["toy"] == "AlphaToyConfig"  # ties broken by entry-point name
    toy_warning = next(w for w in first["warnings"] if "'toy'" in w)
    assert "'alpha'" in toy_warning and "'beta'" in toy_warning and "AUTOHUB_PLUGINS" in toy_warning
    assert first["bert"] == "bert"  # the real family beats the rogue plugin claiming its model_type
    bert_warning = next(w for w in first["warnings"] if "'bert'" in w and "config" in w)
    assert "'zz-rogue'" in bert_warning


@pytest.mark.parametrize(
    ("selection", "winner"),
    [("beta,alpha", "BetaToyConfig"), ("alpha,beta", "AlphaToyConfig"), ("-alpha", "BetaToyConfig")],
)
def test_autohub_plugins_env_var_chooses(conflict_site: Path, selection: str, winner: str) -> None:
    result = run_probe(conflict_site, CONFLICT_BODY, env={"AUTOHUB_PLUGINS": selection})
    assert result["toy"] == winner
    if selection.startswith("-"):
        assert "alpha" not in result["loaded"] and "bert" in result["loaded"]
        assert not any("'toy'" in w for w in result["warnings"])  # no conflict left
    else:
        assert result["loaded"] == ["alpha", "beta"]  # an allow-list loads only those


def test_configure_api_and_runtime_registration_win(conflict_site: Path) -> None:
    result = run_probe(
        conflict_site,
        """
        from autohub_core import AutoConfig, PretrainedConfig
        from autohub_core.plugins import configure
        configure(allow=["beta", "alpha"])
        result["configured"] = type(AutoConfig.for_model("toy")).__name__

        class RuntimeToyConfig(PretrainedConfig):
            model_type = "toy"

        AutoConfig.register("toy", RuntimeToyConfig, exist_ok=True)
        result["runtime"] = type(AutoConfig.for_model("toy")).__name__
        result["runtime_source"] = get_registry().source("config", "toy")
        """,
    )
    assert result["configured"] == "BetaToyConfig"
    assert result["runtime"] == "RuntimeToyConfig" and result["runtime_source"] == "runtime"


def test_first_use_discovery_is_thread_safe(tmp_path: Path) -> None:
    counter = tmp_path / "hook-calls.txt"
    slow = f"""
        import time
        from autohub_core.hookspecs import hookimpl

        @hookimpl
        def autohub_register_configs(register):
            with open({str(counter)!r}, "a") as handle:
                handle.write("called\\n")
            time.sleep(0.3)  # widen the race window
            register("slowtoy", "slow_plugin:Nothing")
    """
    install_distribution(tmp_path, "autohub-slow", {"slow": "slow_plugin"}, {"slow_plugin": slow})
    result = run_probe(
        tmp_path,
        """
        import threading
        from autohub_core import AutoConfig
        from autohub_core.plugins import reset
        reset()
        barrier = threading.Barrier(8)
        seen, errors = [], []

        def first_use():
            barrier.wait()
            try:
                registry = get_registry()
                config = AutoConfig.for_model("bert")
                seen.append((id(registry), registry.has("config", "slowtoy"), type(config).__name__))
            except Exception as error:
                errors.append(repr(error))

        threads = [threading.Thread(target=first_use) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        result["seen"] = sorted(set(map(tuple, seen)), key=str)
        result["count"] = len(seen)
        result["errors"] = errors
        """,
    )
    assert result["errors"] == []
    assert result["count"] == 8
    assert len(result["seen"]) == 1 and result["seen"][0][1:] == [True, "BertConfig"]
    # the probe discovered once before reset() and once after: the 8 racing threads added one call
    assert counter.read_text().count("called") == 2


LATE_PLUGIN = """
    from autohub_core.configuration import PretrainedConfig
    from autohub_core.hookspecs import hookimpl

    class LateConfig(PretrainedConfig):
        model_type = "late"

    @hookimpl
    def autohub_register_configs(register):
        with open({calls!r}, "a") as handle:
            handle.write("called\\n")
        register("late", "late_plugin:LateConfig")
"""

INSTALL_LATE = """
import pathlib, textwrap
site = pathlib.Path({site!r})
dist_info = site / "autohub_late-0.1.dist-info"
dist_info.mkdir()
(dist_info / "METADATA").write_text("Metadata-Version: 2.1\\nName: autohub-late\\nVersion: 0.1\\n")
(dist_info / "entry_points.txt").write_text("[autohub]\\nlate = late_plugin\\n")
(site / "late_plugin.py").write_text(textwrap.dedent({source!r}))
"""


def _late_probe(tmp_path: Path, body: str, setup: str = "") -> tuple[dict[str, Any], Path]:
    """Discover, run ``setup``, install the ``late`` plugin in the running process, run ``body``."""
    site, calls = tmp_path / "site", tmp_path / "calls.txt"
    site.mkdir()
    install = INSTALL_LATE.format(site=str(site), source=LATE_PLUGIN.format(calls=str(calls)))
    return run_probe(site, textwrap.dedent(setup) + install + textwrap.dedent(body)), calls


def test_refresh_sees_a_plugin_installed_after_discovery(tmp_path: Path) -> None:
    result, calls = _late_probe(
        tmp_path,
        """
        result["before"] = get_registry().has("config", "late")
        refresh()
        result["after"] = get_registry().has("config", "late")
        result["late"] = type(AutoConfig.for_model("late")).__name__
        result["runtime_kept"] = type(AutoConfig.for_model("runtime-toy")).__name__
        result["configure_kept"] = get_registry().has("config", "gpt2")
        result["listed"] = [info.name for info in list_plugins()]
        """,
        setup="""
        from autohub_core import AutoConfig, PretrainedConfig
        from autohub_core.plugins import configure, refresh

        class RuntimeToyConfig(PretrainedConfig):
            model_type = "runtime-toy"

        configure(block=["gpt2"])
        AutoConfig.register("runtime-toy", RuntimeToyConfig)
        get_registry()  # discovery with this selection, before the install
        """,
    )
    assert result["before"] is False and result["after"] is True
    assert result["late"] == "LateConfig" and "late" in result["listed"]
    assert result["runtime_kept"] == "RuntimeToyConfig"
    assert result["configure_kept"] is False and "gpt2" not in result["listed"]
    assert calls.read_text().count("called") == 1


def test_unknown_model_type_rediscovers_only_when_something_was_installed(tmp_path: Path) -> None:
    """A lookup miss rediscovers when a sys.path directory changed since discovery (the
    install), and never again while nothing changes: the late plugin's hook runs once."""
    result, calls = _late_probe(
        tmp_path,
        """
        from autohub_core import AutoConfig, UnknownModelTypeError

        result["late"] = type(AutoConfig.for_model("late")).__name__
        result["misses"] = []
        for _ in range(3):
            try:
                AutoConfig.for_model("never-installed")
            except UnknownModelTypeError as error:
                result["misses"].append("pip install autohub-never-installed" in str(error))
        """,
    )
    assert result["late"] == "LateConfig"
    assert result["misses"] == [True, True, True]
    assert calls.read_text().count("called") == 1


@pytest.mark.parametrize(
    ("env", "configure", "reason"),
    [
        ("-gpt2", None, "blocked by AUTOHUB_PLUGINS ('-gpt2')"),
        ("bert,t5", None, "blocked by AUTOHUB_PLUGINS ('bert,t5')"),
        (None, "configure(block=['gpt2'])", "blocked by plugins.configure(allow=None, block=['gpt2'])"),
    ],
)
def test_unknown_model_type_of_a_blocked_plugin_says_so(
    tmp_path: Path, env: str | None, configure: str | None, reason: str
) -> None:
    result = run_probe(
        tmp_path,
        f"""
        from autohub_core import AutoConfig, UnknownModelTypeError
        from autohub_core.plugins import configure

        {configure or "pass"}
        try:
            AutoConfig.for_model("gpt2")
        except UnknownModelTypeError as error:
            result["error"] = str(error)
        """,
        env={"AUTOHUB_PLUGINS": env} if env else None,
    )
    assert f"plugin 'gpt2' (autohub-gpt2) is installed but {reason}" in result["error"]
    assert "pip install" not in result["error"]


# -- one entry-point name, several distributions; fallback to a working provider ---------------

NAMESAKE_PLUGIN = """
    from autohub_core.hookspecs import hookimpl

    @hookimpl
    def autohub_register_configs(register):
{registrations}
"""
WORKING_TOY = TOY_PLUGIN.format(cls="OtherToyConfig", model_type="toyname", module="toyname_other")


def _namesake(*registrations: tuple[str, str]) -> str:
    lines = "".join(f"        register({model_type!r}, {target!r})\n" for model_type, target in registrations)
    return NAMESAKE_PLUGIN.format(registrations=lines)


@pytest.fixture(scope="module")
def namesake_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Entry point ``bert`` from two more distributions than autohub-bert (one lazily broken,
    one exiting at import), entry point ``toyname`` from two (the owner lazily exits), and a
    plugin that takes 50 ms to import."""
    root = tmp_path_factory.mktemp("namesake-site")
    acme = _namesake(("bert", "acme_bert_modeling:AcmeBertConfig"), ("allbroken", "acme_bert_modeling:Nope"))
    install_distribution(
        root,
        "acme-bert",
        {"bert": "acme_bert"},
        {"acme_bert": acme, "acme_bert_modeling": "raise ImportError('acme modeling is broken')\n"},
    )
    install_distribution(root, "exit-bert", {"bert": "exit_bert"}, {"exit_bert": "import sys\nsys.exit(9)\n"})
    owner = _namesake(
        ("toyname", "toyname_owner_modeling:OwnerConfig"), ("allbroken", "toyname_owner_modeling:X")
    )
    install_distribution(
        root,
        "autohub-toyname",
        {"toyname": "toyname_owner"},
        {"toyname_owner": owner, "toyname_owner_modeling": "import sys\nsys.exit(7)\n"},
    )
    install_distribution(root, "other-toyname", {"toyname": "toyname_other"}, {"toyname_other": WORKING_TOY})
    install_distribution(
        root,
        "autohub-slowimport",
        {"slowimport": "slow_import"},
        {"slow_import": "import time\ntime.sleep(0.05)\n"},
    )
    nameless = root / "nameless-0.1.dist-info"  # metadata that names no distribution
    nameless.mkdir()
    (nameless / "entry_points.txt").write_text("[autohub]\nnameless = nameless_plugin\n")
    (root / "nameless_plugin.py").write_text("")
    return root


LISTING_BODY = """
result["ids"] = [info.plugin_id for info in plugins]
result["by_id"] = {
    info.plugin_id: {"name": info.name, "distribution": info.distribution, "error": info.error,
                     "collision": info.collision, "seconds": info.import_seconds}
    for info in plugins
}
"""
NAMESAKE_BODY = (
    LISTING_BODY
    + """
from autohub_core import AutoConfig, PluginError

with warnings.catch_warnings(record=True) as resolving:
    warnings.simplefilter("always")
    result["bert"] = type(AutoConfig.for_model("bert")).__module__
    result["toyname"] = type(AutoConfig.for_model("toyname")).__name__
    result["toyname_again"] = type(AutoConfig.for_model("toyname")).__name__
    try:
        AutoConfig.for_model("allbroken")
    except PluginError as error:
        result["allbroken"] = str(error)
result["resolving_warnings"] = [str(w.message) for w in resolving]
result["sources"] = {key: registry.source("config", key) for key in ("bert", "toyname")}
"""
)


@pytest.fixture(scope="module")
def namesake_result(namesake_site: Path) -> dict[str, Any]:
    return run_probe(namesake_site, NAMESAKE_BODY)


def test_entry_point_name_collisions_keep_every_distribution(namesake_result: dict[str, Any]) -> None:
    by_id = namesake_result["by_id"]
    # autohub-<name> keeps the plain name; the others are told apart by distribution
    assert {"bert", "bert@acme-bert", "bert@exit-bert", "toyname", "toyname@other-toyname"} <= set(by_id)
    assert by_id["bert"]["distribution"] == "autohub-bert"
    assert by_id["toyname"]["distribution"] == "autohub-toyname"
    assert all(by_id[i]["name"] == "bert" for i in ("bert", "bert@acme-bert", "bert@exit-bert"))
    assert by_id["bert@exit-bert"]["error"] == "SystemExit: 9"  # contained, contributes nothing
    collision = next(w for w in namesake_result["warnings"] if "entry point 'bert'" in w)
    assert (
        "3 distributions" in collision and "'bert@acme-bert'" in collision and "'bert@exit-bert'" in collision
    )
    assert all(by_id[i]["collision"] == collision for i in ("bert", "bert@acme-bert", "bert@exit-bert"))
    assert by_id["slowimport"]["collision"] is None
    assert by_id["nameless"]["distribution"] is None and by_id["nameless"]["error"] is None


def test_a_broken_provider_falls_back_to_the_working_one(namesake_result: dict[str, Any]) -> None:
    assert namesake_result["bert"] == "autohub_bert.config"  # autohub-bert is preferred: no fallback needed
    assert namesake_result["toyname"] == namesake_result["toyname_again"] == "OtherToyConfig"
    assert namesake_result["sources"] == {"bert": "bert", "toyname": "toyname@other-toyname"}
    fallbacks = [w for w in namesake_result["resolving_warnings"] if "instead" in w]
    assert len(fallbacks) == 1  # warned once, the second lookup is cached
    assert "'toyname'" in fallbacks[0] and "SystemExit: 7" in fallbacks[0]
    assert "toyname_owner_modeling" in fallbacks[0] and "'toyname@other-toyname'" in fallbacks[0]


def test_no_working_provider_names_every_provider_tried(namesake_result: dict[str, Any]) -> None:
    message = namesake_result["allbroken"]
    assert "plugin 'bert@acme-bert'" in message and "acme modeling is broken" in message
    assert "plugin 'toyname'" in message and "SystemExit: 7" in message
    assert "acme_bert_modeling:Nope" in message and "toyname_owner_modeling:X" in message
    assert "AUTOHUB_PLUGINS='-bert@acme-bert,-toyname@autohub-toyname'" in message


def test_import_time_is_measured_per_plugin(namesake_result: dict[str, Any]) -> None:
    seconds = {plugin_id: info["seconds"] for plugin_id, info in namesake_result["by_id"].items()}
    assert seconds["slowimport"] >= 0.05
    assert all(0 < value < 5 for value in seconds.values())


@pytest.mark.parametrize(
    ("selection", "loaded_bert"),
    [
        ("bert@acme-bert,bert", ["bert", "bert@acme-bert", "bert@exit-bert"]),  # acme preferred, fails
        ("-bert@Acme_Bert", ["bert", "bert@exit-bert"]),  # blocked, spelled as pip would accept it
        ("bert@exit-bert,toyname", ["bert"]),  # exit-bert alone keeps the plain name, then fails
    ],
)
def test_name_at_distribution_selects_one_of_the_namesakes(
    namesake_site: Path, selection: str, loaded_bert: list[str]
) -> None:
    result = run_probe(namesake_site, LISTING_BODY, env={"AUTOHUB_PLUGINS": selection})
    assert [i for i in result["ids"] if result["by_id"][i]["name"] == "bert"] == loaded_bert


def test_preferred_broken_namesake_falls_back_to_autohub_bert(namesake_site: Path) -> None:
    result = run_probe(namesake_site, NAMESAKE_BODY, env={"AUTOHUB_PLUGINS": "bert@acme-bert,bert,toyname"})
    assert result["bert"] == "autohub_bert.config" and result["sources"]["bert"] == "bert"
    fallback = next(w for w in result["resolving_warnings"] if "config 'bert'" in w)
    assert "'bert@acme-bert'" in fallback and "acme modeling is broken" in fallback


def _cli(site: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "AUTOHUB_PLUGINS"}
    environment["PYTHONPATH"] = os.pathsep.join([str(site), environment.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "autohub_core.cli", "plugins", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=site,
    )


def test_autohub_plugins_lists_base_exception_faults_import_times_and_collisions(
    faulty_site: Path, namesake_site: Path
) -> None:
    faulty = _cli(faulty_site)
    assert faulty.returncode == 0, faulty.stderr[-2000:]
    assert "Traceback" not in faulty.stderr
    assert "fault-exit-import (autohub-fault-exit-import 0.1): FAILED to load: SystemExit: 3" in faulty.stdout
    assert "FAILED to load: KeyboardInterrupt" in faulty.stdout
    assert "FAILED to load: PluginMeltdown: custom base exception in a hook" in faulty.stdout
    namesakes = _cli(namesake_site)
    assert namesakes.returncode == 0, namesakes.stderr[-2000:]
    lines = namesakes.stdout.splitlines()
    assert lines[0].split() == ["import", "plugin", "(distribution", "version)", "[module]"]
    slow = next(line for line in lines if "slowimport (autohub-slowimport 0.1)" in line)
    assert float(slow.split()[0]) >= 50 and slow.split()[1] == "ms"
    assert any("bert@acme-bert (acme-bert 0.1) [acme_bert]" in line for line in lines)
    assert any(line.startswith("conflict: autohub entry point 'bert' is declared by 3") for line in lines)
    summary = json.loads(_cli(namesake_site, "--json").stdout)
    entries = {plugin["plugin_id"]: plugin for plugin in summary["plugins"]}
    assert (
        entries["bert@exit-bert"]["name"] == "bert" and entries["bert@exit-bert"]["error"] == "SystemExit: 9"
    )
    assert entries["slowimport"]["import_seconds"] >= 0.05


def test_a_family_class_exiting_while_loading_is_a_plugin_error(tmp_path: Path) -> None:
    """Code of a resolved class (a config's or model's ``__init__``) that calls ``sys.exit()`` or
    raises another non-``Exception`` gives a PluginError naming the class; Ctrl-C passes through."""
    import torch

    from autohub_core import AutoConfig, AutoModel, PretrainedConfig
    from autohub_core.errors import PluginError
    from autohub_core.modeling import PreTrainedModel
    from autohub_core.plugins import reset

    class Goodbye(BaseException):
        """Neither an Exception nor SystemExit."""

    class ExitingConfig(PretrainedConfig):
        model_type = "exiting-toy"
        raise_in_model: type[BaseException] | None = None

        def __init__(self, exit_in_config: bool = False, **kwargs: Any) -> None:
            if exit_in_config:
                sys.exit("config says goodbye")
            super().__init__(**kwargs)

    class ExitingModel(PreTrainedModel):
        config_class = ExitingConfig

        def __init__(self, config: ExitingConfig) -> None:
            super().__init__(config)
            self.proj = torch.nn.Linear(2, 2)
            if ExitingConfig.raise_in_model is not None:
                raise ExitingConfig.raise_in_model()

    try:
        AutoConfig.register("exiting-toy", ExitingConfig)
        AutoModel.register(ExitingConfig, ExitingModel)
        AutoModel.from_config(ExitingConfig()).save_pretrained(tmp_path)
        for raised in (SystemExit, Goodbye):
            ExitingConfig.raise_in_model = raised
            with pytest.raises(PluginError, match=f"ExitingModel raised {raised.__name__}"):
                AutoModel.from_config(ExitingConfig())
            with pytest.raises(PluginError, match="ExitingModel"):
                AutoModel.from_pretrained(tmp_path)
        ExitingConfig.raise_in_model = KeyboardInterrupt
        with pytest.raises(KeyboardInterrupt):
            AutoModel.from_pretrained(tmp_path)
        ExitingConfig.raise_in_model = None
        (tmp_path / "config.json").write_text(
            json.dumps({"model_type": "exiting-toy", "exit_in_config": True})
        )
        with pytest.raises(PluginError, match="ExitingConfig raised SystemExit: config says goodbye"):
            AutoConfig.from_pretrained(tmp_path)
    finally:
        reset()
