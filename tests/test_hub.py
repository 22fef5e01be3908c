"""Hub resolution through huggingface_hub, against a local Hub stand-in (tests/hub_server.py).

huggingface_hub reads HF_ENDPOINT / HF_HUB_OFFLINE into ``huggingface_hub.constants`` when
it is first imported, so the fixture sets both the environment variables (for
subprocesses) and the constants (for this process, where it is already imported).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from autohub_core import (
    AutoConfig,
    AutoModel,
    AutoModelForTokenClassification,
    AutoTokenizer,
    CheckpointNotFoundError,
)

sys.path.insert(0, str(Path(__file__).parent))  # the helpers beside this file (pytest runs in importlib mode)
from hub_server import HubServer
from tiny_models import save_tiny_bert

TOKEN = "hf_local_test_token"
INPUT_IDS = torch.tensor([[2, 7, 8, 9, 10, 11, 3, 0], [2, 12, 13, 14, 3, 0, 0, 0]])
ATTENTION_MASK = (INPUT_IDS != 0).long()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    """The local Hub with a few repos; started once for the module, stopped at its end."""
    root = tmp_path_factory.mktemp("repos")
    server = HubServer().start()
    v1 = save_tiny_bert(root / "v1", "BertModel", seed=1)
    v2 = save_tiny_bert(root / "v2", "BertModel", seed=2)
    server.v1_sha = server.add_commit("org/tiny-bert", v1, refs=("main", "v1.0"))
    server.v2_sha = server.add_commit("org/tiny-bert", v2, refs=("main",))  # main moves on, the tag stays
    server.add_commit("org/private-bert", v1, token=TOKEN)
    server.add_commit("org/nested", v2, prefix="encoder/")
    server.add_commit(
        "org/for-transformers", save_tiny_bert(root / "tf", "BertForTokenClassification", seed=3)
    )

    both = save_tiny_bert(root / "both", "BertModel", seed=4)
    model = _transformers_model(both)
    torch.save(model.state_dict(), both / "pytorch_model.bin")
    server.add_commit("org/both-formats", both)

    sharded = root / "sharded"
    model.save_pretrained(sharded, max_shard_size="40KB")
    save_tiny_bert(root / "tok", "BertModel", seed=4)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (sharded / name).write_bytes((root / "tok" / name).read_bytes())
    server.add_commit("org/sharded", sharded)
    server.dirs = {"v1": v1, "v2": v2, "both": both}
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def hub_env(hub: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point huggingface_hub at the local Hub, with a fresh cache; returns the cache dir."""
    from huggingface_hub import constants
    from huggingface_hub.utils import build_hf_headers

    cache = tmp_path / "hf-cache"
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", hub.endpoint)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HOME", str(tmp_path / "hf-home"))
    build_hf_headers()  # recent huggingface_hub asks the Hub once per process for agent names: not in the log
    hub.clear_log()
    return cache


@pytest.fixture(scope="module")
def big(hub: HubServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Repos whose weights are far larger than the first 100 kB huggingface_hub asks for."""
    root = tmp_path_factory.mktemp("big")
    single = save_tiny_bert(root / "single", "BertModel", seed=6, vocab_size=20_000)
    sharded = root / "sharded"
    _transformers_model(single).save_pretrained(sharded, max_shard_size="1MB")
    pickle_only = root / "pickle-only"
    pickle_only.mkdir()
    (pickle_only / "config.json").write_bytes((single / "config.json").read_bytes())
    torch.save(_transformers_model(single).state_dict(), pickle_only / "pytorch_model.bin")
    corrupt = {
        "config.json": (single / "config.json").read_bytes(),
        "model.safetensors": b"\x10" + bytes(200),
    }
    hub.add_commit("org/big-bert", single)
    hub.add_commit("org/big-sharded", sharded)
    hub.add_commit("org/pickle-only", pickle_only)
    hub.add_commit("org/corrupt-header", corrupt)
    return {"org/big-bert": single, "org/big-sharded": sharded, "org/pickle-only": pickle_only}


def _inspect(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict | None, str]:
    from autohub_core.cli import main

    status = main(["inspect", *argv, "--json"])
    captured = capsys.readouterr()
    return status, json.loads(captured.out) if status == 0 else None, captured.err


def _transformers_model(directory: Path) -> torch.nn.Module:
    import transformers

    return transformers.AutoModel.from_pretrained(directory).eval()


def _hidden(model: torch.nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=INPUT_IDS, attention_mask=ATTENTION_MASK).last_hidden_state


def _expected(hub: HubServer, name: str) -> torch.Tensor:
    return _hidden(_transformers_model(hub.dirs[name]))


def test_download_uses_the_standard_cache_layout(hub: HubServer, hub_env: Path) -> None:
    model = AutoModel.from_pretrained("org/tiny-bert", cache_dir=hub_env)
    torch.testing.assert_close(_hidden(model), _expected(hub, "v2"), atol=1e-5, rtol=0)
    storage = hub_env / "models--org--tiny-bert"
    assert (storage / "refs" / "main").read_text() == hub.v2_sha
    snapshot = storage / "snapshots" / hub.v2_sha
    assert (snapshot / "config.json").is_symlink() and (snapshot / "model.safetensors").is_symlink()
    weights = (snapshot / "model.safetensors").resolve()
    assert weights.parent == storage / "blobs"
    assert weights.name == hashlib.sha256(weights.read_bytes()).hexdigest()  # LFS blobs are named by sha256
    assert hub.requested_files("GET") == ["config.json"]  # the weights came from the CDN
    assert [r.path.rsplit("/", 1)[-1] for r in hub.served("GET", "cdn")] == [weights.name]

    tokenizer = AutoTokenizer.from_pretrained("org/tiny-bert", cache_dir=hub_env)
    assert tokenizer("john smith")["input_ids"][0] == tokenizer.cls_token_id


@pytest.mark.parametrize(
    ("revision", "expected"), [("main", "v2"), ("v1.0", "v1"), ("v1_sha", "v1"), ("v2_sha", "v2")]
)
def test_revisions_branch_tag_and_commit(hub: HubServer, hub_env: Path, revision: str, expected: str) -> None:
    revision = getattr(hub, revision, revision)
    model = AutoModel.from_pretrained("org/tiny-bert", revision=revision, cache_dir=hub_env)
    torch.testing.assert_close(_hidden(model), _expected(hub, expected), atol=1e-5, rtol=0)
    commit = hub.v1_sha if expected == "v1" else hub.v2_sha
    assert (hub_env / "models--org--tiny-bert" / "snapshots" / commit / "model.safetensors").exists()
    if len(revision) != 40:
        assert (hub_env / "models--org--tiny-bert" / "refs" / revision).read_text() == commit
    else:  # a cached commit needs no request at all the second time
        hub.clear_log()
        AutoModel.from_pretrained("org/tiny-bert", revision=revision, cache_dir=hub_env)
        assert hub.served() == []


def test_unknown_revision_and_repo(hub_env: Path) -> None:
    with pytest.raises(CheckpointNotFoundError, match="revision 'nope' does not exist in org/tiny-bert"):
        AutoModel.from_pretrained("org/tiny-bert", revision="nope", cache_dir=hub_env)
    with pytest.raises(CheckpointNotFoundError, match="org/missing is not a local directory"):
        AutoModel.from_pretrained("org/missing", cache_dir=hub_env)


def test_cache_is_shared_with_transformers_both_ways(hub: HubServer, hub_env: Path) -> None:
    import transformers

    ours = AutoModelForTokenClassification.from_pretrained("org/for-transformers", cache_dir=hub_env)
    hub.clear_log()
    theirs = transformers.AutoModelForTokenClassification.from_pretrained(
        "org/for-transformers", cache_dir=hub_env, local_files_only=True
    ).eval()
    # With peft installed, transformers probes for an adapter_config.json even with local_files_only.
    assert [request for request in hub.served() if not request.path.endswith("/adapter_config.json")] == []
    inputs = {"input_ids": INPUT_IDS, "attention_mask": ATTENTION_MASK}
    with torch.no_grad():
        torch.testing.assert_close(ours(**inputs).logits, theirs(**inputs).logits, atol=1e-5, rtol=0)

    transformers.AutoModel.from_pretrained("org/tiny-bert", revision="v1.0", cache_dir=hub_env)
    transformers.AutoTokenizer.from_pretrained("org/tiny-bert", revision="v1.0", cache_dir=hub_env)
    hub.clear_log()
    model = AutoModel.from_pretrained(
        "org/tiny-bert", revision="v1.0", cache_dir=hub_env, local_files_only=True
    )
    tokenizer = AutoTokenizer.from_pretrained(
        "org/tiny-bert", revision="v1.0", cache_dir=hub_env, local_files_only=True
    )
    assert hub.served() == []
    torch.testing.assert_close(_hidden(model), _expected(hub, "v1"), atol=1e-5, rtol=0)
    assert tokenizer.convert_ids_to_tokens(tokenizer("paris")["input_ids"]) == ["[CLS]", "paris", "[SEP]"]


def test_force_download_fetches_again(hub: HubServer, hub_env: Path) -> None:
    AutoModel.from_pretrained("org/tiny-bert", cache_dir=hub_env)
    hub.clear_log()
    AutoModel.from_pretrained("org/tiny-bert", cache_dir=hub_env)
    assert hub.served("GET") == []  # only HEADs to check the etags
    AutoModel.from_pretrained("org/tiny-bert", cache_dir=hub_env, force_download=True)
    assert "config.json" in hub.requested_files("GET")
    assert len(hub.served("GET", "cdn")) == 1


def test_local_files_only_names_the_missing_file(hub: HubServer, hub_env: Path) -> None:
    with pytest.raises(CheckpointNotFoundError, match=r"config\.json of org/tiny-bert is not in the cache"):
        AutoModel.from_pretrained("org/tiny-bert", cache_dir=hub_env, local_files_only=True)
    assert hub.served() == []


def test_offline_mode(hub: HubServer, hub_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(
        CheckpointNotFoundError, match=r"config\.json of org/tiny-bert is not in the cache.*HF_HUB_OFFLINE"
    ):
        AutoModel.from_pretrained("org/tiny-bert", cache_dir=hub_env)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    AutoModel.from_pretrained("org/tiny-bert", cache_dir=hub_env)
    AutoTokenizer.from_pretrained("org/tiny-bert", cache_dir=hub_env)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    hub.clear_log()
    model = AutoModel.from_pretrained("org/tiny-bert", cache_dir=hub_env)
    AutoTokenizer.from_pretrained("org/tiny-bert", cache_dir=hub_env)
    assert hub.served() == []
    torch.testing.assert_close(_hidden(model), _expected(hub, "v2"), atol=1e-5, rtol=0)


@pytest.mark.parametrize("offline", ["local_files_only", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])
def test_offline_uncached_repo_is_one_error_for_config_tokenizer_and_model(
    hub: HubServer, hub_env: Path, monkeypatch: pytest.MonkeyPatch, offline: str
) -> None:
    from huggingface_hub import constants

    kwargs = {"cache_dir": hub_env}
    if offline == "local_files_only":
        kwargs["local_files_only"] = True
    else:  # huggingface_hub reads either variable when imported
        monkeypatch.setenv(offline, "1")
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    tail = (
        r" of org/tiny-bert is not in the cache and downloading is disabled "
        r"\(local_files_only=True or HF_HUB_OFFLINE=1\)"
    )
    for auto_class, missing in (
        (AutoConfig, "config.json"),
        (AutoTokenizer, "tokenizer.json"),
        (AutoModel, "config.json"),
        (AutoModelForTokenClassification, "config.json"),
    ):
        with pytest.raises(CheckpointNotFoundError, match="^" + re.escape(missing) + tail):
            auto_class.from_pretrained("org/tiny-bert", **kwargs)
    assert hub.served() == []


def test_offline_with_only_config_cached_names_the_missing_weights(
    hub: HubServer, hub_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Optional files that were never fetched count as absent offline; the weights error says why."""
    from huggingface_hub import constants

    AutoConfig.from_pretrained("org/tiny-bert", cache_dir=hub_env)  # caches config.json only
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    hub.clear_log()
    with pytest.raises(
        CheckpointNotFoundError, match=r"a weights file .* is not in the cache .*HF_HUB_OFFLINE"
    ):
        AutoModel.from_pretrained("org/tiny-bert", cache_dir=hub_env)
    with pytest.raises(CheckpointNotFoundError, match=r"tokenizer.json or vocab.txt .* is not in the cache"):
        AutoTokenizer.from_pretrained("org/tiny-bert", cache_dir=hub_env)
    assert hub.served() == []


def test_cli_offline_in_a_subprocess(hub: HubServer, hub_env: Path) -> None:
    """HF_ENDPOINT and HF_HUB_OFFLINE read from the environment by a fresh process."""
    environment = {**os.environ, "HF_HUB_CACHE": str(hub_env)}
    script = [
        sys.executable,
        "-m",
        "autohub_core.cli",
        "run",
        "org/tiny-bert",
        "--task",
        "feature-extraction",
    ]
    online = subprocess.run(
        [*script, "--similarity", "paris", "paris"], env=environment, capture_output=True, text=True
    )
    assert online.returncode == 0, online.stderr
    assert float(online.stdout) == pytest.approx(1.0, abs=1e-6)
    assert hub.served("GET", "cdn")
    hub.clear_log()
    offline = subprocess.run(
        [*script, "--similarity", "the dog", "the cat"],
        env={**environment, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
    )
    assert offline.returncode == 0, offline.stderr
    assert hub.served() == []
    missing = subprocess.run(
        [*script, "--offline", "x", "y"],
        env={**environment, "HF_HUB_CACHE": str(hub_env.parent / "empty")},
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2
    assert missing.stderr.startswith("autohub: error: config.json of org/tiny-bert is not in the cache")


def test_private_repo_needs_the_token(hub: HubServer, hub_env: Path) -> None:
    with pytest.raises(CheckpointNotFoundError, match="pass token= for a private repo"):
        AutoModel.from_pretrained("org/private-bert", cache_dir=hub_env)
    assert {r.authorization for r in hub.served("HEAD", "hub")} == {None}
    hub.clear_log()
    model = AutoModel.from_pretrained("org/private-bert", cache_dir=hub_env, token=TOKEN)
    torch.testing.assert_close(_hidden(model), _expected(hub, "v1"), atol=1e-5, rtol=0)
    assert {r.authorization for r in hub.served(server="hub")} == {f"Bearer {TOKEN}"}
    assert {r.authorization for r in hub.served(server="cdn")} == {None}  # never sent off the Hub


def test_subfolder(hub: HubServer, hub_env: Path) -> None:
    model = AutoModel.from_pretrained("org/nested", subfolder="encoder", cache_dir=hub_env)
    tokenizer = AutoTokenizer.from_pretrained("org/nested", subfolder="encoder", cache_dir=hub_env)
    torch.testing.assert_close(_hidden(model), _expected(hub, "v2"), atol=1e-5, rtol=0)
    assert tokenizer("paris")["input_ids"][1] == tokenizer.convert_tokens_to_ids("paris")
    assert set(hub.requested_files("GET")) >= {"encoder/config.json", "encoder/tokenizer.json"}
    assert all(name.startswith("encoder/") for name in hub.requested_files("HEAD"))
    with pytest.raises(CheckpointNotFoundError):
        AutoModel.from_pretrained("org/nested", cache_dir=hub_env)  # no config.json at the root


def test_safetensors_preferred_over_pickle(hub: HubServer, hub_env: Path) -> None:
    model = AutoModel.from_pretrained("org/both-formats", cache_dir=hub_env)
    torch.testing.assert_close(_hidden(model), _expected(hub, "both"), atol=1e-5, rtol=0)
    asked = hub.requested_files("HEAD") + hub.requested_files("GET")
    assert "model.safetensors" in asked
    assert not any(name.startswith("pytorch_model") for name in asked)
    assert len(hub.served("GET", "cdn")) == 1


def test_sharded_checkpoint_follows_the_index(hub: HubServer, hub_env: Path) -> None:
    model = AutoModel.from_pretrained("org/sharded", cache_dir=hub_env)
    torch.testing.assert_close(_hidden(model), _expected(hub, "both"), atol=1e-5, rtol=0)
    heads = hub.requested_files("HEAD")
    shards = sorted(name for name in heads if name.startswith("model-"))
    assert len(shards) > 1 and len(hub.served("GET", "cdn")) == len(shards)
    assert (
        heads.index("model.safetensors")
        < heads.index("model.safetensors.index.json")
        < heads.index(shards[0])
    )
    assert not any(name.startswith("pytorch_model") for name in heads)


@pytest.mark.parametrize("chunk_size", [None, 4096])
def test_interrupted_download_is_retried_without_corrupting_the_cache(
    hub: HubServer, hub_env: Path, monkeypatch: pytest.MonkeyPatch, chunk_size: int | None
) -> None:
    """The CDN cuts the weights half-way once; huggingface_hub retries, resuming with a Range
    request from the last chunk it wrote (a file smaller than one 10 MiB chunk restarts at 0)."""
    from huggingface_hub import constants

    if chunk_size is not None:
        monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", chunk_size)
    weights = hub.repos["org/tiny-bert"].commits[hub.v2_sha]["model.safetensors"]
    sha256 = hashlib.sha256(weights).hexdigest()
    hub.drop_once.add(sha256)
    model = AutoModel.from_pretrained("org/tiny-bert", cache_dir=hub_env)
    torch.testing.assert_close(_hidden(model), _expected(hub, "v2"), atol=1e-5, rtol=0)
    first, retry = hub.served("GET", "cdn")
    assert first.range is None
    if chunk_size is None:
        assert retry.range is None
    else:
        resumed_at = int(retry.range.removeprefix("bytes=").removesuffix("-"))
        assert 0 < resumed_at <= len(weights) // 2 and resumed_at % chunk_size == 0
    blob = hub_env / "models--org--tiny-bert" / "blobs" / sha256
    assert blob.read_bytes() == weights
    assert not list(hub_env.rglob("*.incomplete"))


@pytest.mark.parametrize("repo", ["org/big-bert", "org/big-sharded"])
def test_inspect_repo_id_reads_only_the_headers(
    hub: HubServer, hub_env: Path, big: dict[str, Path], capsys: pytest.CaptureFixture[str], repo: str
) -> None:
    """Range requests for the headers: the CDN serves a small fraction of the weights, and the
    summary equals that of a local copy."""
    status, remote, err = _inspect(capsys, repo, "--cache-dir", str(hub_env))
    assert status == 0, err
    weights = {
        name: content
        for name, content in hub.repos[repo].commits[hub.repos[repo].refs["main"]].items()
        if name.endswith(".safetensors")
    }
    served = hub.bytes_served("cdn")
    assert served < sum(map(len, weights.values())) / 5
    assert all(request.range and request.range.split("-")[1] for request in hub.served("GET", "cdn"))
    assert sorted(request.path.rsplit("/", 1)[-1] for request in hub.served("GET", "cdn")) == sorted(
        hashlib.sha256(content).hexdigest() for content in weights.values()
    )  # one ranged GET per weights file: every header fits in the first 100 kB
    assert not [path for path in hub_env.rglob("*.safetensors")]  # nothing downloaded into the cache
    _, local, _ = _inspect(capsys, str(big[repo]))
    assert remote["parameters"] == local["parameters"] == _transformers_model(big[repo]).num_parameters()
    for key in ("dtype", "dtypes", "tensors", "weights_bytes", "weights_files", "model_type"):
        assert remote[key] == local[key]
    assert remote["weights_files"] == sorted(weights)


def test_inspect_repo_id_from_the_cache_offline(
    hub: HubServer, hub_env: Path, big: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    AutoModel.from_pretrained("org/big-sharded", cache_dir=hub_env)  # caches config, index and shards
    hub.clear_log()
    status, summary, err = _inspect(capsys, "org/big-sharded", "--cache-dir", str(hub_env), "--offline")
    assert status == 0, err
    assert summary["parameters"] == _transformers_model(big["org/big-sharded"]).num_parameters()
    assert hub.served() == []


def test_inspect_repo_without_safetensors_builds_on_meta(
    hub: HubServer, hub_env: Path, big: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    status, summary, err = _inspect(capsys, "org/pickle-only", "--cache-dir", str(hub_env))
    assert status == 0, err
    assert summary["parameters"] == _transformers_model(big["org/big-bert"]).num_parameters()
    assert summary["weights_files"] == [] and hub.served(server="cdn") == []


@pytest.mark.parametrize(
    ("repo", "message"),
    [
        ("org/corrupt-header", "model.safetensors of org/corrupt-header is not a valid safetensors file"),
        ("org/private-bert", "org/private-bert is not a local directory and not a Hub repository you can"),
        ("org/does-not-exist", "org/does-not-exist is not a local directory and not a Hub repository"),
    ],
)
def test_inspect_bad_repo_is_a_one_line_error(
    hub: HubServer,
    hub_env: Path,
    big: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    repo: str,
    message: str,
) -> None:
    status, _, err = _inspect(capsys, repo, "--cache-dir", str(hub_env))
    assert status == 2
    assert err.startswith(f"autohub: error: {message}") and err.count("\n") == 1


def test_unreachable_hub_while_reading_a_header_is_typed(
    hub: HubServer, hub_env: Path, big: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.file_download
    from huggingface_hub import constants

    from autohub_core.hub import read_safetensors_header

    dead = "http://127.0.0.1:9"  # nothing listens on the discard port
    template = dead + "/{repo_id}/resolve/{revision}/{filename}"
    for module in (constants, huggingface_hub.file_download):  # huggingface_hub < 1.0 binds them at import
        monkeypatch.setattr(module, "ENDPOINT", dead, raising=False)
        monkeypatch.setattr(module, "HUGGINGFACE_CO_URL_TEMPLATE", template, raising=False)
    with pytest.raises(
        CheckpointNotFoundError, match=r"cannot read the header of model\.safetensors of org/big"
    ):
        read_safetensors_header("org/big-bert", "model.safetensors")
