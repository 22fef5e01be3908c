"""Security: no code from a checkpoint ever runs, and no file outside the model directory is read."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from autohub_core import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoTokenizer,
    CheckpointNotFoundError,
    PreTrainedModel,
    UnsupportedFeatureError,
    WeightsError,
)


class _Payload:
    """Unpickling this calls ``os.system`` — what a malicious pytorch_model.bin does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def bert_dir(save_hf_bert, tmp_path: Path) -> Path:
    """A private copy of a tiny transformers BERT checkpoint (config.json + model.safetensors)."""
    target = tmp_path / "model"
    shutil.copytree(save_hf_bert("BertModel"), target)
    return target


def _pickle_only(directory: Path) -> None:
    (directory / "model.safetensors").unlink()


def test_the_payload_is_real(tmp_path: Path) -> None:
    marker = tmp_path / "proof"
    pickle.loads(pickle.dumps(_Payload(marker)))  # what torch.load(weights_only=False) would do
    assert marker.exists()


@pytest.mark.parametrize("weights_only", [True, False])
@pytest.mark.parametrize("container", ["zip", "legacy-pickle"])
def test_malicious_pickle_never_runs(
    bert_dir: Path, tmp_path: Path, container: str, weights_only: bool
) -> None:
    marker = tmp_path / "pwned"
    _pickle_only(bert_dir)
    weights = bert_dir / "pytorch_model.bin"
    state = {"embeddings.word_embeddings.weight": torch.zeros(99, 32), "evil": _Payload(marker)}
    if container == "zip":
        torch.save(state, weights)
    else:
        weights.write_bytes(pickle.dumps(state))
    expected = WeightsError if weights_only else UnsupportedFeatureError
    with pytest.raises(expected, match=r"pytorch_model\.bin"):
        AutoModel.from_pretrained(bert_dir, weights_only=weights_only)
    assert not marker.exists()


def test_malicious_pickle_shard_behind_an_index_never_runs(bert_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    _pickle_only(bert_dir)
    torch.save({"evil": _Payload(marker)}, bert_dir / "pytorch_model-00001-of-00001.bin")
    index = {"weight_map": {"embeddings.word_embeddings.weight": "pytorch_model-00001-of-00001.bin"}}
    (bert_dir / "pytorch_model.bin.index.json").write_text(json.dumps(index))
    with pytest.raises(WeightsError):
        AutoModel.from_pretrained(bert_dir)
    assert not marker.exists()


def test_safe_pickle_still_loads(bert_dir: Path) -> None:
    reference = AutoModel.from_pretrained(bert_dir)
    _pickle_only(bert_dir)
    torch.save(reference.state_dict(), bert_dir / "pytorch_model.bin")
    loaded = AutoModel.from_pretrained(bert_dir)
    for key, tensor in reference.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[key])


@pytest.mark.parametrize(
    "load",
    [
        lambda path: AutoConfig.from_pretrained(path, trust_remote_code=True),
        lambda path: AutoModel.from_pretrained(path, trust_remote_code=True),
        lambda path: AutoModelForMaskedLM.from_pretrained(path, trust_remote_code=True),
        lambda path: AutoModel.from_config(AutoConfig.from_pretrained(path), trust_remote_code=True),
        lambda path: AutoTokenizer.from_pretrained(path, trust_remote_code=True),
        lambda path: PreTrainedModel.from_pretrained(path, trust_remote_code=True),
    ],
    ids=[
        "AutoConfig",
        "AutoModel",
        "AutoModelForMaskedLM",
        "from_config",
        "AutoTokenizer",
        "PreTrainedModel",
    ],
)
def test_trust_remote_code_is_refused_with_an_explanation(bert_dir: Path, load) -> None:
    with pytest.raises(UnsupportedFeatureError, match="installed plugins"):
        load(bert_dir)


def test_auto_map_code_in_a_checkpoint_is_never_imported(bert_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    (bert_dir / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass EvilModel: ...\n")
    config = json.loads((bert_dir / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_evil.EvilModel", "AutoConfig": "modeling_evil.EvilModel"}
    (bert_dir / "config.json").write_text(json.dumps(config))
    model = AutoModel.from_pretrained(bert_dir)
    assert type(model).__name__ == "BertModel"
    assert not marker.exists()


@pytest.fixture
def outside(tmp_path: Path, bert_dir: Path) -> Path:
    """A VALID shard outside the model directory: loading it would succeed, so an error proves it was not read."""
    directory = tmp_path / "elsewhere"
    directory.mkdir()
    shutil.copy(bert_dir / "model.safetensors", directory / "stolen.safetensors")
    return directory / "stolen.safetensors"


def _index_to(bert_dir: Path, shard: str) -> None:
    (bert_dir / "model.safetensors").unlink()
    weight_map = {"embeddings.word_embeddings.weight": shard}
    (bert_dir / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "nested-dotdot"])
def test_index_file_names_never_escape_the_model_dir(bert_dir: Path, outside: Path, kind: str) -> None:
    if kind == "dotdot":
        shard = f"../elsewhere/{outside.name}"
    elif kind == "nested-dotdot":
        shard = f"sub/../../elsewhere/{outside.name}"
    elif kind == "absolute":
        shard = str(outside)
    else:
        shard = "linked.safetensors"
        (bert_dir / shard).symlink_to(outside)
    _index_to(bert_dir, shard)
    with pytest.raises(CheckpointNotFoundError, match="model directory"):
        AutoModel.from_pretrained(bert_dir)


def test_symlinked_config_outside_is_refused(bert_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.json"
    shutil.move(bert_dir / "config.json", secret)
    (bert_dir / "config.json").symlink_to(secret)
    with pytest.raises(CheckpointNotFoundError, match="outside the model directory"):
        AutoConfig.from_pretrained(bert_dir)


def test_hub_cache_snapshot_symlinks_are_allowed(bert_dir: Path, tmp_path: Path) -> None:
    """``snapshots/<rev>/file`` -> ``blobs/<hash>`` is how the Hub cache stores every file."""
    repo = tmp_path / "models--someone--tiny"
    blobs, snapshot = repo / "blobs", repo / "snapshots" / "abc123"
    blobs.mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        shutil.copy(bert_dir / name, blobs / f"hash-{name}")
        (snapshot / name).symlink_to(Path("../../blobs") / f"hash-{name}")
    assert type(AutoModel.from_pretrained(snapshot)).__name__ == "BertModel"


def test_tokenizer_config_cannot_point_at_files_outside(bert_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret-vocab.txt"
    secret.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nsecret\n")
    (bert_dir / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n")
    config = {"tokenizer_class": "BertTokenizer", "vocab_file": str(secret), "tokenizer_file": str(secret)}
    (bert_dir / "tokenizer_config.json").write_text(json.dumps(config))
    tokenizer = AutoTokenizer.from_pretrained(bert_dir)
    assert "secret" not in tokenizer.get_vocab() and "hello" in tokenizer.get_vocab()


# -- weights that match nothing, and use_safetensors=True (issue 14, item 7) --------------------


def _write_safetensors_header(path: Path, header: dict) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw)


def test_an_empty_safetensors_file_is_an_error_not_a_random_model(bert_dir: Path) -> None:
    _write_safetensors_header(bert_dir / "model.safetensors", {})
    with pytest.raises(WeightsError, match=r"model\.safetensors: none of its 0 tensors matches"):
        AutoModel.from_pretrained(bert_dir)


def test_weights_of_another_model_are_an_error(bert_dir: Path) -> None:
    from safetensors.torch import load_file, save_file

    tensors = load_file(bert_dir / "model.safetensors")
    save_file(
        {f"vision_tower.{key}": value for key, value in tensors.items()}, bert_dir / "model.safetensors"
    )
    with pytest.raises(
        WeightsError, match=rf"model\.safetensors: none of its {len(tensors)} tensors matches"
    ):
        AutoModel.from_pretrained(bert_dir)


def test_a_head_or_a_model_without_weights_still_loads(bert_dir: Path, tmp_path: Path) -> None:
    """Only a checkpoint matching none of the model's weights is refused."""
    _, info = AutoModelForMaskedLM.from_pretrained(bert_dir, output_loading_info=True)
    assert info["missing_keys"]  # the head is new, the base came from the checkpoint
    config = AutoConfig.from_pretrained(bert_dir)

    class NoWeights(PreTrainedModel):
        config_class = type(config)

        def __init__(self, config: object) -> None:
            super().__init__(config)
            self.register_buffer("scratch", torch.zeros(2), persistent=False)

    NoWeights(config).save_pretrained(tmp_path / "empty")  # a safetensors file without tensors
    assert isinstance(NoWeights.from_pretrained(tmp_path / "empty"), NoWeights)


@pytest.fixture
def torch_load_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("torch.load was called")

    monkeypatch.setattr(torch, "load", forbidden)


@pytest.mark.parametrize("use_safetensors", [True, None])
def test_a_safetensors_index_never_opens_a_pickle(
    bert_dir: Path, tmp_path: Path, torch_load_forbidden: None, use_safetensors: bool | None
) -> None:
    marker = tmp_path / "pwned"
    with open(bert_dir / "pytorch_model.bin", "wb") as handle:
        pickle.dump({"embeddings.word_embeddings.weight": _Payload(marker)}, handle)
    _index_to(bert_dir, "pytorch_model.bin")
    with pytest.raises(WeightsError, match=r"safetensors index but names 'pytorch_model\.bin'"):
        AutoModel.from_pretrained(bert_dir, use_safetensors=use_safetensors)
    assert not marker.exists()


def test_use_safetensors_true_refuses_a_pickle_only_folder(
    bert_dir: Path, tmp_path: Path, torch_load_forbidden: None
) -> None:
    marker = tmp_path / "pwned"
    _pickle_only(bert_dir)
    with open(bert_dir / "pytorch_model.bin", "wb") as handle:
        pickle.dump({"evil": _Payload(marker)}, handle)
    with pytest.raises(
        CheckpointNotFoundError, match=r"only pickle weights \(pytorch_model\.bin\).*never opens"
    ):
        AutoModel.from_pretrained(bert_dir, use_safetensors=True)
    assert not marker.exists()
