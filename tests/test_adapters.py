"""Adapters through peft: transformers' PEFT integration API (load_adapter, add_adapter, set_adapter ...)
on autohub models, against transformers + peft as the oracle, on an encoder, a decoder and T5."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import peft
import pytest
import torch
import transformers
from safetensors.torch import load_file, save_file

from autohub_core import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoModelForSequenceClassification
from autohub_core.adapters import ADAPTER_CONFIG_NAME, ADAPTER_SAFE_WEIGHTS_NAME, PEFT_KEY_PREFIX
from autohub_core.errors import (
    AutohubError,
    CheckpointNotFoundError,
    ConfigError,
    MissingExtraError,
    WeightsError,
)

sys.path.insert(0, str(Path(__file__).parent))  # the helpers beside this file (pytest runs in importlib mode)
from hub_server import HubServer

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()

TOL = 1e-5
VOCAB = 99


@dataclass(frozen=True)
class Family:
    hf_class: type
    auto_class: type
    config: Callable[[], transformers.PretrainedConfig]
    target_modules: tuple[str, ...]
    other_target_modules: tuple[str, ...]  # a second adapter targets other layers

    def inputs(self) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(1)
        input_ids = torch.randint(2, VOCAB, (2, 7), generator=generator)
        if self.hf_class is transformers.T5ForConditionalGeneration:
            return {
                "input_ids": input_ids,
                "decoder_input_ids": torch.randint(2, VOCAB, (2, 5), generator=generator),
            }
        return {"input_ids": input_ids}


FAMILIES = {
    "bert": Family(
        transformers.BertForSequenceClassification,
        AutoModelForSequenceClassification,
        lambda: transformers.BertConfig(
            vocab_size=VOCAB,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=37,
            max_position_embeddings=64,
            num_labels=3,
        ),
        ("query", "value"),
        ("key", "dense"),
    ),
    "llama": Family(
        transformers.LlamaForCausalLM,
        AutoModelForCausalLM,
        lambda: transformers.LlamaConfig(
            vocab_size=VOCAB,
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=64,
            pad_token_id=0,
        ),
        ("q_proj", "v_proj"),
        ("k_proj", "down_proj"),
    ),
    "t5": Family(
        transformers.T5ForConditionalGeneration,
        AutoModelForSeq2SeqLM,
        lambda: transformers.T5Config(
            vocab_size=VOCAB,
            d_model=32,
            d_kv=8,
            d_ff=48,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            decoder_start_token_id=0,
        ),
        ("q", "v"),
        ("k", "wo"),
    ),
}


def lora(target_modules: tuple[str, ...], **overrides: object) -> peft.LoraConfig:
    """A LoRA config whose B matrices are random (not zero), so that the adapter changes the outputs."""
    return peft.LoraConfig(
        r=4, lora_alpha=32, target_modules=list(target_modules), init_lora_weights=False, **overrides
    )


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``checkpoints(family)``: a tiny transformers base checkpoint; ``checkpoints(family, adapter=seed)``:
    a LoRA adapter for it saved by peft (``other=True``: targeting other layers)."""
    cache: dict[tuple, Path] = {}

    def save(family: str, adapter: int | None = None, other: bool = False) -> Path:
        key = (family, adapter, other)
        if key in cache:
            return cache[key]
        spec = FAMILIES[family]
        directory = tmp_path_factory.mktemp(f"{family}-{adapter}")
        if adapter is None:
            torch.manual_seed(0)
            spec.hf_class(spec.config()).save_pretrained(directory)
        else:
            torch.manual_seed(adapter)
            targets = spec.other_target_modules if other else spec.target_modules
            model = spec.hf_class.from_pretrained(save(family))
            peft.get_peft_model(model, lora(targets)).save_pretrained(directory)
        cache[key] = directory
        return directory

    return save


def hf_model(family: str, base: Path) -> torch.nn.Module:
    return FAMILIES[family].hf_class.from_pretrained(base).eval()


def ours_model(family: str, base: Path) -> torch.nn.Module:
    return FAMILIES[family].auto_class.from_pretrained(base)


def logits(model: torch.nn.Module, family: str) -> torch.Tensor:
    with torch.no_grad():
        return model(**FAMILIES[family].inputs()).logits


def assert_close(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    assert ours.shape == theirs.shape
    assert (ours - theirs).abs().max().item() <= TOL


def assert_differs(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    assert (ours - theirs).abs().max().item() > 100 * TOL


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.clone() for key, value in model.state_dict().items()}


def assert_untouched(model: torch.nn.Module, before: dict[str, torch.Tensor]) -> None:
    after = model.state_dict()
    assert list(after) == list(before)
    assert all(torch.equal(after[key], before[key]) for key in before)
    assert not any(isinstance(m, peft.tuners.tuners_utils.BaseTunerLayer) for m in model.modules())
    assert not model._hf_peft_config_loaded
    assert not hasattr(model, "peft_config")


# -- parity with transformers + peft --------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_loaded_adapter_matches_transformers_peft(checkpoints: Callable[..., Path], family: str) -> None:
    base, adapter = checkpoints(family), checkpoints(family, adapter=1)
    theirs = hf_model(family, base)
    theirs.load_adapter(str(adapter))
    ours = ours_model(family, base)
    base_logits = logits(ours, family)

    ours.load_adapter(adapter)

    assert ours._hf_peft_config_loaded
    assert ours.active_adapters() == theirs.active_adapters() == ["default"]
    assert_close(logits(ours, family), logits(theirs, family))
    assert_differs(logits(ours, family), base_logits)
    # Loaded for inference: frozen, in eval mode, as transformers.
    assert not ours.training
    assert not any(p.requires_grad for p in [*ours.parameters(), *theirs.parameters()])
    ours_tensors, their_tensors = ours.get_adapter_state_dict(), theirs.get_adapter_state_dict()
    assert sorted(ours_tensors) == sorted(their_tensors)
    assert all(torch.equal(ours_tensors[key], their_tensors[key]) for key in their_tensors)

    ours.disable_adapters()
    assert_close(logits(ours, family), base_logits)
    ours.enable_adapters()
    assert_close(logits(ours, family), logits(theirs, family))


@pytest.mark.parametrize("family", FAMILIES)
def test_transformers_loads_an_adapter_added_in_autohub(
    checkpoints: Callable[..., Path], family: str, tmp_path: Path
) -> None:
    base = checkpoints(family)
    ours = ours_model(family, base)
    torch.manual_seed(3)
    ours.add_adapter(lora(FAMILIES[family].target_modules))
    assert ours.active_adapters() == ["default"]
    # The adapter files as peft writes them, from the public API.
    ours.peft_config["default"].save_pretrained(str(tmp_path))
    tensors = {PEFT_KEY_PREFIX + key: value for key, value in ours.get_adapter_state_dict().items()}
    save_file(tensors, str(tmp_path / ADAPTER_SAFE_WEIGHTS_NAME))

    theirs = hf_model(family, base)
    theirs.load_adapter(str(tmp_path))

    assert_close(logits(ours, family), logits(theirs, family))
    assert_differs(logits(ours, family), logits(hf_model(family, base), family))


def test_save_pretrained_with_an_adapter_writes_only_the_adapter(
    checkpoints: Callable[..., Path], tmp_path: Path
) -> None:
    base = checkpoints("llama")
    ours = ours_model("llama", base)
    ours.add_adapter(lora(FAMILIES["llama"].target_modules))

    ours.save_pretrained(tmp_path)

    assert {ADAPTER_CONFIG_NAME, ADAPTER_SAFE_WEIGHTS_NAME} <= {p.name for p in tmp_path.iterdir()}
    assert not (tmp_path / "model.safetensors").exists()
    assert not (tmp_path / "config.json").exists()
    theirs = hf_model("llama", base)
    theirs.load_adapter(str(tmp_path))
    assert_close(logits(ours, "llama"), logits(theirs, "llama"))


def test_saving_several_active_adapters_is_refused(checkpoints: Callable[..., Path], tmp_path: Path) -> None:
    ours = ours_model("bert", checkpoints("bert"))
    ours.load_adapter(checkpoints("bert", adapter=1), adapter_name="one")
    ours.load_adapter(checkpoints("bert", adapter=2, other=True), adapter_name="two")
    ours.set_adapter(["one", "two"])

    with pytest.raises(ConfigError, match="set_adapter"):
        ours._save_active_adapter(tmp_path)

    ours.set_adapter("two")
    ours._save_active_adapter(tmp_path)
    theirs = hf_model("bert", checkpoints("bert"))
    theirs.load_adapter(str(tmp_path))
    assert_close(logits(ours, "bert"), logits(theirs, "bert"))


@pytest.mark.parametrize("family", FAMILIES)
def test_set_adapter_switches_between_two_adapters(checkpoints: Callable[..., Path], family: str) -> None:
    base = checkpoints(family)
    first, second = checkpoints(family, adapter=1), checkpoints(family, adapter=2, other=True)
    ours, theirs = ours_model(family, base), hf_model(family, base)
    for model in (ours, theirs):
        model.load_adapter(str(first), adapter_name="first")
        model.load_adapter(str(second), adapter_name="second")
    assert ours.active_adapters() == theirs.active_adapters() == ["second"]
    assert_close(logits(ours, family), logits(theirs, family))

    for active in ("first", "second", ["first", "second"]):
        ours.set_adapter(active)
        theirs.set_adapter(active)
        assert ours.active_adapters() == theirs.active_adapters()
        assert_close(logits(ours, family), logits(theirs, family))
    ours.set_adapter("first")
    assert_differs(logits(ours, family), logits(theirs, family))


def test_delete_adapter(checkpoints: Callable[..., Path]) -> None:
    base = checkpoints("llama")
    ours = ours_model("llama", base)
    base_logits = logits(ours, "llama")
    ours.load_adapter(checkpoints("llama", adapter=1), adapter_name="first")
    ours.load_adapter(checkpoints("llama", adapter=2, other=True), adapter_name="second")

    ours.delete_adapter("second")
    assert list(ours.peft_config) == ["first"]
    assert ours.active_adapters() == ["first"]
    reference = peft.PeftModel.from_pretrained(hf_model("llama", base), checkpoints("llama", adapter=1))
    assert_close(logits(ours, "llama"), logits(reference.eval(), "llama"))

    ours.delete_adapter(["first"])
    assert not ours._hf_peft_config_loaded
    assert not hasattr(ours, "peft_config")
    assert_close(logits(ours, "llama"), base_logits)
    ours.load_adapter(checkpoints("llama", adapter=1), adapter_name="first")  # the name is free again


def test_adapter_saved_on_the_base_model_loads_into_a_head(
    checkpoints: Callable[..., Path], tmp_path: Path
) -> None:
    """Keys saved from BertModel (no ``bert.`` prefix) are moved under the head's base model, as transformers."""
    base = checkpoints("bert")
    torch.manual_seed(5)
    bare = transformers.BertModel.from_pretrained(base)
    peft.get_peft_model(bare, lora(FAMILIES["bert"].target_modules)).save_pretrained(tmp_path)
    ours, theirs = ours_model("bert", base), hf_model("bert", base)

    ours.load_adapter(tmp_path)
    theirs.load_adapter(str(tmp_path))

    assert_close(logits(ours, "bert"), logits(theirs, "bert"))
    assert_differs(logits(ours, "bert"), logits(hf_model("bert", base), "bert"))


def test_state_dict_and_config_arguments_replace_the_files(checkpoints: Callable[..., Path]) -> None:
    base, adapter = checkpoints("t5"), checkpoints("t5", adapter=1)
    ours, theirs = ours_model("t5", base), hf_model("t5", base)
    theirs.load_adapter(str(adapter))

    ours.load_adapter(
        peft_config=peft.PeftConfig.from_pretrained(str(adapter)),
        adapter_state_dict=load_file(adapter / ADAPTER_SAFE_WEIGHTS_NAME),
    )

    assert_close(logits(ours, "t5"), logits(theirs, "t5"))


def test_adapter_from_a_private_hub_repo(
    checkpoints: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    hub = HubServer().start()
    try:
        hub.add_commit("org/bert-lora", checkpoints("bert", adapter=1), prefix="lora/", token="hf_test_token")
        monkeypatch.setattr(constants, "ENDPOINT", hub.endpoint)
        monkeypatch.setattr(
            constants,
            "HUGGINGFACE_CO_URL_TEMPLATE",
            hub.endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        )
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        ours = ours_model("bert", checkpoints("bert"))
        with pytest.raises(CheckpointNotFoundError, match="token="):
            ours.load_adapter("org/bert-lora", subfolder="lora", cache_dir=tmp_path)

        ours.load_adapter("org/bert-lora", subfolder="lora", token="hf_test_token", cache_dir=tmp_path)

        assert set(hub.requested_files("HEAD")) == {
            "lora/adapter_config.json",
            "lora/adapter_model.safetensors",
        }
    finally:
        hub.stop()
    theirs = hf_model("bert", checkpoints("bert"))
    theirs.load_adapter(str(checkpoints("bert", adapter=1)))
    assert_close(logits(ours, "bert"), logits(theirs, "bert"))


def test_low_cpu_mem_usage_gives_the_same_adapter(checkpoints: Callable[..., Path]) -> None:
    base, adapter = checkpoints("llama"), checkpoints("llama", adapter=1)
    ours, theirs = ours_model("llama", base), hf_model("llama", base)
    theirs.load_adapter(str(adapter))

    ours.load_adapter(adapter, low_cpu_mem_usage=True)

    assert not any(p.is_meta for p in ours.parameters())
    assert_close(logits(ours, "llama"), logits(theirs, "llama"))


def test_adapter_model_bin_loads_when_weights_only_accepts_it(
    checkpoints: Callable[..., Path], tmp_path: Path
) -> None:
    adapter = checkpoints("bert", adapter=1)
    (tmp_path / ADAPTER_CONFIG_NAME).write_text((adapter / ADAPTER_CONFIG_NAME).read_text())
    torch.save(load_file(adapter / ADAPTER_SAFE_WEIGHTS_NAME), tmp_path / "adapter_model.bin")
    ours, theirs = ours_model("bert", checkpoints("bert")), hf_model("bert", checkpoints("bert"))

    ours.load_adapter(tmp_path)
    theirs.load_adapter(str(adapter))

    assert_close(logits(ours, "bert"), logits(theirs, "bert"))


# -- training ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_trainable_adapter_gets_the_gradients_transformers_gives(
    checkpoints: Callable[..., Path], family: str
) -> None:
    base, adapter = checkpoints(family), checkpoints(family, adapter=1)
    ours, theirs = ours_model(family, base), hf_model(family, base)
    ours.load_adapter(adapter, is_trainable=True)
    theirs.load_adapter(str(adapter), is_trainable=True)

    trainable = {name for name, p in ours.named_parameters() if p.requires_grad}
    assert trainable == {name for name, p in theirs.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_" in name for name in trainable)
    for model in (ours, theirs):
        model(**FAMILIES[family].inputs()).logits.pow(2).mean().backward()

    their_grads = dict(theirs.named_parameters())
    for name, parameter in ours.named_parameters():
        if name in trainable:
            assert parameter.grad is not None
            assert_close(parameter.grad, their_grads[name].grad)
        else:
            assert parameter.grad is None


# -- peft's own entry points on autohub models ------------------------------------------------------


@pytest.mark.parametrize("family", ["bert", "llama"])
def test_peft_get_peft_model_and_from_pretrained_work_on_autohub_models(
    checkpoints: Callable[..., Path], family: str
) -> None:
    base, adapter = checkpoints(family), checkpoints(family, adapter=1)
    reference = peft.PeftModel.from_pretrained(hf_model(family, base), adapter).eval()

    wrapped = peft.PeftModel.from_pretrained(ours_model(family, base), adapter).eval()
    assert_close(logits(wrapped, family), logits(reference, family))

    torch.manual_seed(7)
    ours_peft = peft.get_peft_model(ours_model(family, base), lora(FAMILIES[family].target_modules))
    torch.manual_seed(7)
    their_peft = peft.get_peft_model(hf_model(family, base), lora(FAMILIES[family].target_modules))
    assert_close(logits(ours_peft.eval(), family), logits(their_peft.eval(), family))


# -- refused inputs: typed errors, and the model is left as it was ----------------------------------


def test_directory_without_adapter_config_is_refused(
    checkpoints: Callable[..., Path], tmp_path: Path
) -> None:
    ours = ours_model("bert", checkpoints("bert"))
    before = snapshot(ours)

    with pytest.raises(CheckpointNotFoundError, match=ADAPTER_CONFIG_NAME):
        ours.load_adapter(checkpoints("bert"))  # a model checkpoint, not an adapter
    with pytest.raises(CheckpointNotFoundError, match=ADAPTER_CONFIG_NAME):
        ours.load_adapter(tmp_path)

    assert_untouched(ours, before)


def test_config_without_weights_is_refused(checkpoints: Callable[..., Path], tmp_path: Path) -> None:
    (tmp_path / ADAPTER_CONFIG_NAME).write_text(
        (checkpoints("bert", adapter=1) / ADAPTER_CONFIG_NAME).read_text()
    )
    ours = ours_model("bert", checkpoints("bert"))
    before = snapshot(ours)

    with pytest.raises(CheckpointNotFoundError, match="no adapter weights"):
        ours.load_adapter(tmp_path)

    assert_untouched(ours, before)


def test_pickled_code_in_adapter_model_bin_is_refused(
    checkpoints: Callable[..., Path], tmp_path: Path
) -> None:
    (tmp_path / ADAPTER_CONFIG_NAME).write_text(
        (checkpoints("bert", adapter=1) / ADAPTER_CONFIG_NAME).read_text()
    )
    torch.save({"weights": torch.zeros(2), "payload": Path("not/a/tensor")}, tmp_path / "adapter_model.bin")
    ours = ours_model("bert", checkpoints("bert"))
    before = snapshot(ours)

    with pytest.raises(WeightsError, match="weights_only"):
        ours.load_adapter(tmp_path)

    assert_untouched(ours, before)


def test_adapter_of_another_architecture_is_refused(checkpoints: Callable[..., Path]) -> None:
    ours = ours_model("bert", checkpoints("bert"))
    before = snapshot(ours)

    with pytest.raises(ConfigError, match=r"q_proj") as refused:  # llama's layer names are not in BERT
        ours.load_adapter(checkpoints("llama", adapter=1))

    assert "BertForSequenceClassification" in str(refused.value)
    assert_untouched(ours, before)


def test_adapter_of_another_size_is_refused(checkpoints: Callable[..., Path], tmp_path: Path) -> None:
    """Same layer names, other shapes: a BERT adapter trained on a wider BERT."""
    config = FAMILIES["bert"].config()
    config.hidden_size, config.intermediate_size = 48, 40
    wide = peft.get_peft_model(transformers.BertForSequenceClassification(config), lora(("query", "value")))
    wide.save_pretrained(tmp_path)
    ours = ours_model("bert", checkpoints("bert"))
    before = snapshot(ours)

    with pytest.raises(
        WeightsError,
        match=r"shapes that differ: .*query\.lora_A\.weight: adapter \(4, 48\) vs model \(4, 32\)",
    ):
        ours.load_adapter(tmp_path)

    assert_untouched(ours, before)


def test_adapter_tensors_for_missing_modules_are_refused(checkpoints: Callable[..., Path]) -> None:
    adapter = checkpoints("bert", adapter=1)
    tensors = load_file(adapter / ADAPTER_SAFE_WEIGHTS_NAME)
    tensors[f"{PEFT_KEY_PREFIX}bert.encoder.layer.7.attention.self.query.lora_A.weight"] = torch.zeros(4, 32)
    ours = ours_model("bert", checkpoints("bert"))
    before = snapshot(ours)

    with pytest.raises(WeightsError, match=r"match no adapted module.*layer\.7"):
        ours.load_adapter(
            peft_config=peft.PeftConfig.from_pretrained(str(adapter)), adapter_state_dict=tensors
        )
    del tensors[f"{PEFT_KEY_PREFIX}bert.encoder.layer.7.attention.self.query.lora_A.weight"]
    del tensors[f"{PEFT_KEY_PREFIX}bert.encoder.layer.1.attention.self.value.lora_B.weight"]
    with pytest.raises(WeightsError, match=r"lacks: .*layer\.1\.attention\.self\.value\.lora_B\.weight"):
        ours.load_adapter(
            peft_config=peft.PeftConfig.from_pretrained(str(adapter)), adapter_state_dict=tensors
        )

    assert_untouched(ours, before)


def test_target_modules_matching_nothing_are_refused(checkpoints: Callable[..., Path]) -> None:
    ours = ours_model("llama", checkpoints("llama"))
    before = snapshot(ours)

    with pytest.raises(ConfigError, match="no_such_layer"):
        ours.add_adapter(lora(("no_such_layer",)))

    assert_untouched(ours, before)


def test_adapter_name_in_use_is_refused(checkpoints: Callable[..., Path]) -> None:
    ours = ours_model("t5", checkpoints("t5"))
    ours.load_adapter(checkpoints("t5", adapter=1), adapter_name="mine")
    before = snapshot(ours)

    with pytest.raises(ConfigError, match="'mine' is already attached"):
        ours.load_adapter(checkpoints("t5", adapter=2), adapter_name="mine")
    with pytest.raises(ConfigError, match="'mine' is already attached"):
        ours.add_adapter(lora(FAMILIES["t5"].target_modules), adapter_name="mine")

    after = ours.state_dict()
    assert list(after) == list(before)
    assert all(torch.equal(after[key], before[key]) for key in before)
    assert list(ours.peft_config) == ["mine"]


def test_unknown_adapter_names_are_refused(checkpoints: Callable[..., Path]) -> None:
    ours = ours_model("bert", checkpoints("bert"))
    before = snapshot(ours)
    for call in (lambda: ours.set_adapter("default"), ours.disable_adapters, ours.active_adapters):
        with pytest.raises(ConfigError, match="has no adapter: call load_adapter or add_adapter first"):
            call()
    assert_untouched(ours, before)

    ours.load_adapter(checkpoints("bert", adapter=1))
    with pytest.raises(
        ConfigError, match=r"no adapter named \['typo'\]; the attached adapters are \['default'\]"
    ):
        ours.set_adapter(["default", "typo"])
    with pytest.raises(ConfigError, match="typo"):
        ours.delete_adapter("typo")
    assert ours.active_adapters() == ["default"]


def test_peft_missing_raises_missing_extra_error(
    checkpoints: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = ours_model("bert", checkpoints("bert"))
    before = snapshot(ours)
    monkeypatch.setitem(sys.modules, "peft", None)

    for method, call in (
        ("load_adapter", lambda: ours.load_adapter(checkpoints("bert", adapter=1))),
        ("add_adapter", lambda: ours.add_adapter(object())),
        ("set_adapter", lambda: ours.set_adapter("default")),
    ):
        with pytest.raises(
            MissingExtraError, match=rf"{method} needs peft: pip install 'autohub-core\[peft\]'"
        ) as missing:
            call()
        assert isinstance(missing.value, (AutohubError, ImportError))

    monkeypatch.undo()
    assert_untouched(ours, before)
