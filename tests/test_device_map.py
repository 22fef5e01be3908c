"""Device maps through accelerate: strategies, explicit maps, ``max_memory`` and disk offload.

Tiny checkpoints saved by transformers are split between ``"cpu"`` and ``"disk"`` with a small
``max_memory={"cpu": N}`` (this machine has no GPU). Offloaded models must give the outputs and
greedy tokens of the single-device load, keep disk modules on the meta device, reference
safetensors weights in place (other sources are written to ``offload_folder``), save a
checkpoint transformers reads, and refuse bad requests with a typed error before loading.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import transformers
from safetensors.torch import load_file
from torch import nn

import autohub_core as ah
from autohub_core import modeling
from autohub_core.errors import MissingExtraError, PlacementError

STRATEGIES = ("auto", "balanced", "balanced_low_0", "sequential")
VOCAB = 128
LLAMA_MEMORY = {"cpu": 400_000}  # of ~660 kB: embeddings + layer 0 on the CPU, the rest on disk


@dataclasses.dataclass(frozen=True)
class Family:
    """A tiny checkpoint to build with transformers and how autohub loads and runs it."""

    hf_class: str
    config: dict[str, Any]
    auto: str
    max_memory: dict[str, int]
    generates: bool
    seq2seq: bool = False


FAMILIES = {
    "llama": Family(
        "LlamaForCausalLM",
        {
            "model_type": "llama", "vocab_size": VOCAB, "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
            "max_position_embeddings": 64, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2,
        },
        "AutoModelForCausalLM", LLAMA_MEMORY, generates=True,
    ),
    "gpt2": Family(
        "GPT2LMHeadModel",
        {
            "model_type": "gpt2", "vocab_size": VOCAB, "n_embd": 64, "n_layer": 4, "n_head": 4,
            "n_positions": 64, "bos_token_id": 1, "eos_token_id": 2,
        },
        "AutoModelForCausalLM", {"cpu": 400_000}, generates=True,
    ),
    "t5": Family(
        "T5ForConditionalGeneration",
        {
            "model_type": "t5", "vocab_size": VOCAB, "d_model": 64, "d_kv": 16, "d_ff": 128,
            "num_layers": 4, "num_heads": 4, "decoder_start_token_id": 0, "pad_token_id": 0,
            "eos_token_id": 1,
        },
        # decoder.block.1-3 on disk (test_t5_whole_decoder_on_disk puts the whole stack there)
        "AutoModelForSeq2SeqLM", {"cpu": 1_000_000}, generates=True, seq2seq=True,
    ),
    "bert": Family(
        "BertForSequenceClassification",
        {
            "model_type": "bert", "vocab_size": VOCAB, "hidden_size": 64, "num_hidden_layers": 4,
            "num_attention_heads": 4, "intermediate_size": 128, "max_position_embeddings": 64,
            "num_labels": 3,
        },
        "AutoModelForSequenceClassification", {"cpu": 350_000}, generates=False,
    ),
}  # fmt: skip
#: One strategy per family in the parity test; llama also runs all of them.
STRATEGY_OF = {"llama": "auto", "gpt2": "balanced", "t5": "sequential", "bert": "balanced_low_0"}


def _hf_config(family: Family) -> transformers.PretrainedConfig:
    values = dict(family.config)
    return transformers.AutoConfig.for_model(values.pop("model_type"), **values)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """A tiny random transformers model of a family saved to disk (cached per save options)."""
    cache: dict[tuple[str, str], Path] = {}

    def save(name: str, form: str = "safetensors") -> Path:
        if (name, form) not in cache:
            family = FAMILIES[name]
            torch.manual_seed(0)
            model = getattr(transformers, family.hf_class)(_hf_config(family)).eval()
            directory = tmp_path_factory.mktemp(f"{name}-{form}")
            if form == "safetensors":
                model.save_pretrained(directory)
            elif form == "sharded":
                model.save_pretrained(directory, max_shard_size="200KB")
            else:  # transformers 5 no longer writes .bin: the legacy layout by hand
                model.config.save_pretrained(directory)
                torch.save(model.state_dict(), directory / "pytorch_model.bin")
            cache[name, form] = directory
        return cache[name, form]

    return save


def _auto(family: str) -> Any:
    return getattr(ah, FAMILIES[family].auto)


def _load(family: str, path: Path, **kwargs: Any) -> nn.Module:
    return _auto(family).from_pretrained(path, **kwargs)


def _inputs(family: str) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    input_ids = torch.randint(3, VOCAB, (2, 9), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 6:] = 0
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    if FAMILIES[family].seq2seq:
        inputs["decoder_input_ids"] = torch.tensor([[0, 5, 9, 17], [0, 7, 7, 40]])
    return inputs


def _logits(model: nn.Module, family: str) -> torch.Tensor:
    with torch.no_grad():
        return model(**_inputs(family)).logits


def _greedy(model: Any, family: str) -> list[list[int]]:
    input_ids = _inputs(family)["input_ids"][:, :6]  # unpadded prompts
    output = model.generate(
        input_ids=input_ids,
        attention_mask=torch.ones_like(input_ids),
        max_new_tokens=6,
        do_sample=False,
        pad_token_id=0,
    )
    return output.tolist()


def _assert_close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    assert actual.shape == expected.shape
    assert (actual - expected).abs().max().item() <= 1e-5


def _disk_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """The parameters and buffers of the modules ``hf_device_map`` puts on disk."""
    on_disk = [name for name, device in model.hf_device_map.items() if device == "disk"]
    return {
        name: tensor
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]
        if any(name.startswith(module + ".") for module in on_disk)
    }


def _offload_loaders(model: nn.Module) -> Iterator[Any]:
    """accelerate's ``OffloadedWeightsLoader`` behind every offloading hook of ``model``."""
    for module in model.modules():
        weights_map = getattr(getattr(module, "_hf_hook", None), "weights_map", None)
        if weights_map is not None:
            yield weights_map.dataset


def _files_under(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


# -- parity ---------------------------------------------------------------------------------


@pytest.mark.parametrize("family", list(FAMILIES))
def test_cpu_and_disk_split_matches_single_device(
    family: str, checkpoint: Callable[..., Path], tmp_path: Path
) -> None:
    """A strategy + small max_memory puts modules on cpu and disk; outputs and tokens match."""
    path = checkpoint(family)
    spec = FAMILIES[family]
    reference = _load(family, path)
    model = _load(
        family,
        path,
        device_map=STRATEGY_OF[family],
        max_memory=spec.max_memory,
        offload_folder=tmp_path / "offload",
    )
    devices = set(model.hf_device_map.values())
    assert devices == {"cpu", "disk"}, model.hf_device_map
    assert model.device == torch.device("cpu")
    assert not model.training

    expected = _logits(reference, family)
    _assert_close(_logits(model, family), expected)
    oracle = getattr(transformers, spec.hf_class).from_pretrained(path).eval()
    _assert_close(_logits(oracle, family), expected)
    if spec.generates:
        assert _greedy(model, family) == _greedy(reference, family)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_splits_llama(strategy: str, checkpoint: Callable[..., Path], tmp_path: Path) -> None:
    """Each strategy string plans a cpu + disk map (no GPU here) that runs like the plain load."""
    path = checkpoint("llama")
    reference = _load("llama", path)
    model = _load("llama", path, device_map=strategy, max_memory=LLAMA_MEMORY, offload_folder=tmp_path / "o")
    assert model.hf_device_map["model.embed_tokens"] == "cpu"
    assert model.hf_device_map["lm_head"] == "disk"  # the last module, past the budget
    assert set(model.hf_device_map.values()) == {"cpu", "disk"}
    _assert_close(_logits(model, "llama"), _logits(reference, "llama"))
    assert _greedy(model, "llama") == _greedy(reference, "llama")


def test_llama_greedy_tokens_match_transformers(checkpoint: Callable[..., Path], tmp_path: Path) -> None:
    """The disk-offloaded autohub model generates transformers' own greedy tokens."""
    path = checkpoint("llama")
    model = _load("llama", path, device_map="auto", max_memory=LLAMA_MEMORY, offload_folder=tmp_path)
    oracle = transformers.LlamaForCausalLM.from_pretrained(path).eval()
    assert "disk" in model.hf_device_map.values()
    assert _greedy(model, "llama") == _greedy(oracle, "llama")


def test_strategy_without_max_memory_keeps_everything_on_cpu(checkpoint: Callable[..., Path]) -> None:
    """device_map='auto' on a CPU-only machine with room for the model: one CPU placement."""
    path = checkpoint("llama")
    model = _load("llama", path, device_map="auto")
    assert set(model.hf_device_map.values()) == {"cpu"}
    assert not any(tensor.is_meta for tensor in model.parameters())
    _assert_close(_logits(model, "llama"), _logits(_load("llama", path), "llama"))


def test_t5_whole_decoder_on_disk(checkpoint: Callable[..., Path], tmp_path: Path) -> None:
    """T5 with the whole decoder stack (its block 0 too) on disk, as max_memory=800 kB plans it."""
    path = checkpoint("t5")
    model = _load("t5", path, device_map="auto", max_memory={"cpu": 800_000}, offload_folder=tmp_path)
    assert model.hf_device_map["decoder.block"] == "disk"
    _assert_close(_logits(model, "t5"), _logits(_load("t5", path), "t5"))


# -- explicit maps, buffers, checkpoint formats ------------------------------------------------

LLAMA_MAP = {
    "model.embed_tokens": "disk",
    "model.layers.0": "cpu",
    "model.layers.1": "disk",
    "model.layers.2": "cpu",
    "model.layers.3": "disk",
    "model.norm": "cpu",
    "model.rotary_emb": "cpu",
    "lm_head": "disk",
}


def test_explicit_map_is_followed(checkpoint: Callable[..., Path], tmp_path: Path) -> None:
    """A dict map interleaving cpu and disk is applied as given and runs like the plain load."""
    path = checkpoint("llama")
    model = _load("llama", path, device_map=LLAMA_MAP, offload_folder=tmp_path / "offload")
    assert model.hf_device_map == LLAMA_MAP
    for name, parameter in model.named_parameters():
        module = next(key for key in LLAMA_MAP if name.startswith(key + "."))
        assert parameter.is_meta == (LLAMA_MAP[module] == "disk"), name
    reference = _load("llama", path)
    _assert_close(_logits(model, "llama"), _logits(reference, "llama"))
    assert _greedy(model, "llama") == _greedy(reference, "llama")


def test_explicit_map_accepts_torch_devices(checkpoint: Callable[..., Path], tmp_path: Path) -> None:
    """Map values may be torch.device objects; hf_device_map records their names."""
    path = checkpoint("llama")
    device_map = {k: torch.device(v) if v == "cpu" else v for k, v in LLAMA_MAP.items()}
    model = _load("llama", path, device_map=device_map, offload_folder=tmp_path)
    assert model.hf_device_map == LLAMA_MAP


BERT_MAP = {
    "bert.embeddings": "cpu",
    "bert.encoder.layer.0": "disk",
    "bert.encoder.layer.1": "cpu",
    "bert.encoder.layer.2": "disk",
    "bert.encoder.layer.3": "disk",
    "bert.pooler": "disk",
    "dropout": "cpu",
    "classifier": "cpu",
}


@pytest.mark.parametrize("offload_buffers", [False, True])
def test_offload_buffers(offload_buffers: bool, checkpoint: Callable[..., Path], tmp_path: Path) -> None:
    """offload_buffers either way: BERT's buffers stay usable and outputs match."""
    path = checkpoint("bert")
    model = _load("bert", path, device_map=BERT_MAP, offload_folder=tmp_path, offload_buffers=offload_buffers)
    assert model.hf_device_map == BERT_MAP
    assert {name: b.device.type for name, b in model.named_buffers()} == {
        "bert.embeddings.position_ids": "cpu",
        "bert.embeddings.token_type_ids": "cpu",
    }
    _assert_close(_logits(model, "bert"), _logits(_load("bert", path), "bert"))


@pytest.mark.parametrize(
    "offload_buffers",
    [
        False,
        True,
    ],
)
def test_buffers_of_a_disk_module(
    offload_buffers: bool, checkpoint: Callable[..., Path], tmp_path: Path
) -> None:
    """BERT embeddings (non-persistent position_ids / token_type_ids buffers) on disk."""
    path = checkpoint("bert")
    device_map = {**BERT_MAP, "bert.embeddings": "disk"}
    model = _load(
        "bert", path, device_map=device_map, offload_folder=tmp_path, offload_buffers=offload_buffers
    )
    assert model.bert.embeddings.word_embeddings.weight.is_meta
    assert model.bert.embeddings.position_ids.device.type == "cpu"
    _assert_close(_logits(model, "bert"), _logits(_load("bert", path), "bert"))
    # token_type_ids taken from the buffer, not given
    inputs = {"input_ids": _inputs("bert")["input_ids"]}
    with torch.no_grad():
        _assert_close(model(**inputs).logits, _load("bert", path)(**inputs).logits)


def test_sharded_safetensors_are_referenced_in_place(checkpoint: Callable[..., Path], tmp_path: Path) -> None:
    """Disk tensors of a sharded checkpoint point into its own shard files; nothing is copied."""
    path = checkpoint("llama", "sharded")
    shards = sorted(path.glob("model-*.safetensors"))
    assert len(shards) > 2 and (path / "model.safetensors.index.json").exists()
    folder = tmp_path / "offload"
    model = _load("llama", path, device_map="auto", max_memory=LLAMA_MEMORY, offload_folder=folder)

    disk = _disk_tensors(model)
    assert disk and all(tensor.is_meta for tensor in disk.values())
    loaders = list(_offload_loaders(model))
    assert loaders
    index = loaders[0].index
    assert set(disk) <= set(index)
    referenced = {Path(index[name]["safetensors_file"]) for name in disk}
    assert len(referenced) > 1 and referenced <= set(shards)
    assert all(index[name]["weight_name"] == name for name in disk)
    assert all(not loader.state_dict for loader in loaders)  # no in-memory copies
    assert not any(name.endswith((".dat", ".safetensors")) for name in _files_under(folder))

    reference = _load("llama", path)
    _assert_close(_logits(model, "llama"), _logits(reference, "llama"))
    assert _greedy(model, "llama") == _greedy(reference, "llama")


def test_single_file_safetensors_leaves_offload_folder_without_weights(
    checkpoint: Callable[..., Path], tmp_path: Path
) -> None:
    """model.safetensors: every disk tensor references the checkpoint file; the folder holds no copy."""
    path = checkpoint("gpt2")
    folder = tmp_path / "offload"
    model = _load("gpt2", path, device_map="auto", max_memory={"cpu": 400_000}, offload_folder=folder)
    disk = _disk_tensors(model)
    assert disk and all(tensor.is_meta for tensor in disk.values())
    index = next(_offload_loaders(model)).index
    assert {Path(index[name]["safetensors_file"]) for name in disk} == {path / "model.safetensors"}
    assert _files_under(folder) in ([], ["index.json"])
    if (folder / "index.json").exists():  # an index of written tensors only: none here
        assert (folder / "index.json").read_text().strip() in ("{}", "")


def test_bin_checkpoint_is_written_to_offload_folder(checkpoint: Callable[..., Path], tmp_path: Path) -> None:
    """pytorch_model.bin cannot be memory-mapped: its disk part is written to offload_folder."""
    path = checkpoint("llama", "bin")
    assert (path / "pytorch_model.bin").exists() and not list(path.glob("*.safetensors"))
    folder = tmp_path / "offload"
    model = _load("llama", path, device_map="auto", max_memory=LLAMA_MEMORY, offload_folder=folder)

    disk = _disk_tensors(model)
    assert disk and all(tensor.is_meta for tensor in disk.values())
    files = _files_under(folder)
    assert "index.json" in files
    assert {f"{name}.dat" for name in disk} <= set(files)
    assert not any(name.startswith("model.layers.0.") for name in files)  # cpu modules not written
    index = next(_offload_loaders(model)).index
    assert all("safetensors_file" not in index[name] for name in disk)

    reference = _load("llama", checkpoint("llama"))
    _assert_close(_logits(model, "llama"), _logits(reference, "llama"))
    assert _greedy(model, "llama") == _greedy(reference, "llama")


def test_disk_modules_stay_on_meta(checkpoint: Callable[..., Path], tmp_path: Path) -> None:
    """After loading, disk parameters are meta (loaded by hooks at run time), and stay so after use."""
    path = checkpoint("llama")
    model = _load("llama", path, device_map="auto", max_memory=LLAMA_MEMORY, offload_folder=tmp_path)
    disk = {name for name in _disk_tensors(model)}
    assert disk
    for name, parameter in model.named_parameters():
        assert parameter.is_meta == (name in disk), name
    memory = sum(p.numel() * p.element_size() for p in model.parameters() if not p.is_meta)
    assert memory <= LLAMA_MEMORY["cpu"]
    _logits(model, "llama")
    assert all(parameter.is_meta for name, parameter in model.named_parameters() if name in disk)


# -- saving ----------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_save_from_disk_offloaded_model(family: str, checkpoint: Callable[..., Path], tmp_path: Path) -> None:
    """save_pretrained reads disk weights back: the checkpoint loads in autohub and transformers."""
    path = checkpoint(family)
    model = _load(
        family,
        path,
        device_map="auto",
        max_memory=FAMILIES[family].max_memory,
        offload_folder=tmp_path / "offload",
    )
    assert "disk" in model.hf_device_map.values()
    target = tmp_path / "saved"
    model.save_pretrained(target)

    original = load_file(path / "model.safetensors")
    saved = load_file(target / "model.safetensors")
    assert not any(tensor.is_meta for tensor in saved.values())
    assert sorted(saved) == sorted(original)  # a tied tensor is written once, as transformers writes it
    for name, tensor in saved.items():
        assert torch.equal(tensor, original[name]), name
    expected = _logits(_load(family, path), family)
    _assert_close(_logits(_load(family, target), family), expected)
    oracle = getattr(transformers, FAMILIES[family].hf_class).from_pretrained(target).eval()
    _assert_close(_logits(oracle, family), expected)
    # the offloaded model keeps working after the save
    assert all(tensor.is_meta for tensor in _disk_tensors(model).values())
    _assert_close(_logits(model, family), expected)


# -- bad requests ----------------------------------------------------------------------------


@pytest.fixture
def no_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every checkpoint tensor read: a refused request must read none."""
    reads: list[str] = []
    original = modeling._WeightsSource.get

    def get(self: Any, key: str, *args: Any, **kwargs: Any) -> torch.Tensor:
        reads.append(key)
        return original(self, key, *args, **kwargs)

    monkeypatch.setattr(modeling._WeightsSource, "get", get)
    return reads


def _without(name: str) -> dict[str, str]:
    return {key: value for key, value in LLAMA_MAP.items() if key != name}


BAD_REQUESTS: dict[str, tuple[dict[str, Any], str]] = {
    "unknown module": ({"device_map": {**LLAMA_MAP, "model.layers.9": "disk"}}, "model.layers.9"),
    "module left out": ({"device_map": _without("lm_head")}, "lm_head.weight"),
    "module placed twice": ({"device_map": {**LLAMA_MAP, "model": "cpu"}}, "twice"),
    "root and a module": ({"device_map": {"": "cpu", "lm_head": "disk"}}, "twice"),
    "bad device value": ({"device_map": {**LLAMA_MAP, "lm_head": 1.5}}, "1.5"),
    "max_memory too small": ({"device_map": "auto", "max_memory": {"cpu": 1_000}}, "too small"),
    "max_memory a list": ({"device_map": "auto", "max_memory": [400_000]}, "max_memory"),
    "max_memory bad size": ({"device_map": "auto", "max_memory": {"cpu": "lots"}}, "lots"),
    "max_memory bad device": ({"device_map": "auto", "max_memory": {"tpu": 10**6}}, "tpu"),
    "strategy misspelt": ({"device_map": "Auto", "max_memory": LLAMA_MEMORY}, "Auto"),
    "max_memory without map": ({"max_memory": LLAMA_MEMORY, "offload_folder": None}, "device_map"),
    "offload_folder without map": ({}, "device_map"),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_request_is_refused_before_loading(
    case: str, checkpoint: Callable[..., Path], tmp_path: Path, no_reads: list[str]
) -> None:
    """Each bad request raises PlacementError naming its cause, reads no tensor, writes no file."""
    kwargs, cause = BAD_REQUESTS[case]
    folder = tmp_path / "offload"
    with pytest.raises(PlacementError) as raised:
        _load("llama", checkpoint("llama"), **{"offload_folder": folder, **kwargs})
    assert cause in str(raised.value)
    assert no_reads == []
    assert _files_under(folder) == []


#: device_map, whether offload_folder is passed too (the accelerate path), and what the message must name.
BAD_DEVICES: dict[str, tuple[Any, bool, str]] = {
    "unknown strategy": ("fastest", False, "fastest"),
    "unknown strategy + offload_folder": ("fastest", True, "fastest"),
    "cuda": ("cuda", False, "cuda"),
    "cuda + offload_folder": ("cuda", True, "cuda"),
    "cuda:0 in a root map": ({"": "cuda:0"}, False, "cuda:0"),
    "device 0": (0, False, "cuda:0"),
    "device 0 in a root map": ({"": 0}, False, "cuda:0"),
    "device 1": (1, False, "cuda:1"),
    "cuda:0 in a cpu + disk map": ({**LLAMA_MAP, "lm_head": "cuda:0"}, True, "cuda:0"),
    "a list": (["cpu"], False, "['cpu']"),
    "a list + offload_folder": (["cpu"], True, "['cpu']"),
    "unknown device string in a map": ({**LLAMA_MAP, "lm_head": "gpu"}, True, "gpu"),
}


@pytest.mark.parametrize("case", list(BAD_DEVICES))
def test_bad_device_is_a_placement_error(
    case: str, checkpoint: Callable[..., Path], tmp_path: Path, no_reads: list[str]
) -> None:
    """An unknown strategy or device, or CUDA on a CPU-only machine, is a PlacementError."""
    device_map, with_folder, cause = BAD_DEVICES[case]
    if "cuda" in cause and torch.cuda.is_available():
        pytest.skip("CUDA devices exist here: not a bad request")
    folder = tmp_path / "offload" if with_folder else None
    with pytest.raises(PlacementError) as raised:
        _load("llama", checkpoint("llama"), device_map=device_map, offload_folder=folder)
    assert cause.lower() in str(raised.value).lower()
    assert no_reads == []
    assert folder is None or _files_under(folder) == []


def test_offload_needed_without_offload_folder(checkpoint: Callable[..., Path], no_reads: list[str]) -> None:
    """A plan or map with disk modules but no offload_folder is refused before loading."""
    for kwargs in ({"device_map": "auto", "max_memory": LLAMA_MEMORY}, {"device_map": LLAMA_MAP}):
        with pytest.raises(PlacementError, match="offload_folder"):
            _load("llama", checkpoint("llama"), **kwargs)
    assert no_reads == []


@pytest.mark.parametrize("where", ["under a file", "a file"])
def test_offload_folder_not_writable(
    where: str, checkpoint: Callable[..., Path], tmp_path: Path, no_reads: list[str]
) -> None:
    """An offload_folder that cannot be created or written is a PlacementError naming it."""
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    folder = blocker / "offload" if where == "under a file" else blocker
    with pytest.raises(PlacementError, match="offload_folder") as raised:
        _load("llama", checkpoint("llama"), device_map=LLAMA_MAP, offload_folder=folder)
    assert str(folder) in str(raised.value)
    assert no_reads == []
    assert blocker.read_text() == "not a directory"


def test_map_leaving_out_a_tied_alias(
    checkpoint: Callable[..., Path], tmp_path: Path, no_reads: list[str]
) -> None:
    """GPT-2 with lm_head (tied to wte) left out of the map: refused before loading."""
    device_map = {
        "transformer.wte": "disk", "transformer.wpe": "cpu", "transformer.drop": "cpu",
        "transformer.h": "cpu", "transformer.ln_f": "cpu",
    }  # fmt: skip
    with pytest.raises(PlacementError, match="lm_head"):
        _load("gpt2", checkpoint("gpt2"), device_map=device_map, offload_folder=tmp_path)
    assert no_reads == []


def test_tied_weights_both_on_disk(checkpoint: Callable[..., Path], tmp_path: Path) -> None:
    """GPT-2 with wte and the tied lm_head both on disk runs like the plain load."""
    path = checkpoint("gpt2")
    device_map = {
        "transformer.wte": "disk", "lm_head": "disk", "transformer.wpe": "cpu",
        "transformer.drop": "cpu", "transformer.h.0": "cpu", "transformer.h.1": "disk",
        "transformer.h.2": "cpu", "transformer.h.3": "disk", "transformer.ln_f": "disk",
    }  # fmt: skip
    model = _load("gpt2", path, device_map=device_map, offload_folder=tmp_path)
    _assert_close(_logits(model, "gpt2"), _logits(_load("gpt2", path), "gpt2"))


def test_t5_explicit_map(checkpoint: Callable[..., Path], tmp_path: Path) -> None:
    """T5 with an explicit map naming the shared embedding under each stack, as transformers needs."""
    path = checkpoint("t5")
    device_map = {
        "shared": "cpu",
        "encoder.embed_tokens": "cpu",
        "decoder.embed_tokens": "cpu",
        "lm_head": "cpu",
    }
    for stack in ("encoder", "decoder"):
        device_map[f"{stack}.block.0"] = "cpu"
        device_map.update({f"{stack}.block.{i}": "disk" for i in (1, 2, 3)})
        device_map[f"{stack}.final_layer_norm"] = "disk"
        device_map[f"{stack}.dropout"] = "cpu"
    model = _load("t5", path, device_map=device_map, offload_folder=tmp_path)
    reference = _load("t5", path)
    _assert_close(_logits(model, "t5"), _logits(reference, "t5"))
    assert _greedy(model, "t5") == _greedy(reference, "t5")


# -- without accelerate ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"device_map": "auto"},
        {"device_map": "sequential", "max_memory": LLAMA_MEMORY},
        {"device_map": LLAMA_MAP},
        {"device_map": {"model": "cpu", "lm_head": "disk"}},
    ],
    ids=["strategy", "max_memory", "cpu+disk map", "disk in a map"],
)
def test_multi_device_needs_accelerate(
    kwargs: dict[str, Any], checkpoint: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without accelerate, a request it must carry out is a MissingExtraError naming the extra."""
    monkeypatch.setitem(sys.modules, "accelerate", None)
    folder = tmp_path / "offload"
    with pytest.raises(MissingExtraError, match="accelerate") as raised:
        _load("llama", checkpoint("llama"), offload_folder=folder, **kwargs)
    assert "autohub-core[accelerate]" in str(raised.value)
    assert _files_under(folder) == []


@pytest.mark.parametrize(
    "device_map",
    ["cpu", {"": "cpu"}, torch.device("cpu"), {"model": "cpu", "lm_head": "cpu"}],
    ids=["string", "root dict", "torch.device", "one-device dict"],
)
def test_single_device_needs_no_accelerate(
    device_map: Any, checkpoint: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One-device maps load without accelerate, all on the CPU, and set hf_device_map."""
    path = checkpoint("llama")
    reference = _load("llama", path)
    monkeypatch.setitem(sys.modules, "accelerate", None)
    model = _load("llama", path, device_map=device_map)
    assert model.hf_device_map == {"": "cpu"}
    assert model.device == torch.device("cpu")
    assert all(tensor.device.type == "cpu" for tensor in model.parameters())
    assert not any(hasattr(module, "_hf_hook") for module in model.modules())
    _assert_close(_logits(model, "llama"), _logits(reference, "llama"))
