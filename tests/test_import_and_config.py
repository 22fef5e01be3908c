"""Import cost, AutoConfig, runtime registration and the errors users see."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

import autohub_core as ah
from autohub_core.configuration import PretrainedConfig
from autohub_core.errors import (
    AutohubError,
    CheckpointNotFoundError,
    ConfigError,
    RegistrationError,
    UnknownModelTypeError,
    UnsupportedFeatureError,
)


def test_import_is_cheap_and_lazy() -> None:
    code = (
        "import sys, autohub_core\n"
        "from autohub_core import AutoModel, AutoConfig, AutoTokenizer, PretrainedConfig\n"
        "from autohub_core import AutoImageProcessor, AutoFeatureExtractor, AutoProcessor\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'transformers', 'autohub_bert', 'safetensors', 'tokenizers', 'huggingface_hub', "
        "'numpy', 'PIL'))\n"
        "print(loaded)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout


def test_discovery_happens_on_first_use_through_the_entry_point() -> None:
    code = (
        "import sys, autohub_core.plugins as p\n"
        "assert p._registry is None or not p._registry.discovered\n"
        "names = [i.name for i in p.list_plugins() if i.loaded]\n"
        "assert 'bert' in names, names\n"
        "assert 'autohub_bert.modeling' not in sys.modules and 'torch' not in sys.modules\n"
        "assert 'numpy' not in sys.modules and 'PIL' not in sys.modules\n"
        "info = [i for i in p.list_plugins() if i.name == 'bert'][0]\n"
        "print(info.distribution, info.module)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["autohub-bert", "autohub_bert.plugin"]


def test_autoconfig_from_directory_file_and_kwargs(save_hf_bert) -> None:
    directory = save_hf_bert("BertModel")
    config = ah.AutoConfig.from_pretrained(directory)
    assert type(config).__name__ == "BertConfig" and config.hidden_size == 32
    from_file = ah.AutoConfig.from_pretrained(directory / "config.json")
    assert from_file.to_dict() == config.to_dict()
    config, unused = ah.AutoConfig.from_pretrained(
        directory, output_attentions=True, foo=False, return_unused_kwargs=True
    )
    assert config.output_attentions is True and unused == {"foo": False}


def test_autoconfig_guesses_type_from_name_when_model_type_missing(tmp_path: pathlib.Path) -> None:
    directory = tmp_path / "my-bert-base-uncased"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps({"hidden_size": 48}))
    config = ah.AutoConfig.from_pretrained(directory)
    assert config.model_type == "bert" and config.hidden_size == 48
    other = tmp_path / "mystery"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"hidden_size": 48}))
    with pytest.raises(ConfigError, match="model_type"):
        ah.AutoConfig.from_pretrained(other)


def test_config_round_trip_keeps_unknown_keys_and_labels(tmp_path: pathlib.Path) -> None:
    config = ah.AutoConfig.for_model(
        "bert",
        hidden_size=64,
        num_attention_heads=4,
        my_custom_key={"a": [1, 2]},
        id2label={"0": "NEG", "1": "POS"},
    )
    assert config.id2label == {0: "NEG", 1: "POS"} and config.label2id == {"NEG": 0, "POS": 1}
    assert config.num_labels == 2
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["my_custom_key"] == {"a": [1, 2]} and saved["model_type"] == "bert"
    reloaded = ah.AutoConfig.from_pretrained(tmp_path)
    assert reloaded.my_custom_key == {"a": [1, 2]} and reloaded.id2label == {0: "NEG", 1: "POS"}
    reloaded.num_labels = 4
    assert reloaded.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2", 3: "LABEL_3"}


def test_transformers_reads_an_autohub_config(tmp_path: pathlib.Path) -> None:
    import transformers

    ah.AutoConfig.for_model("bert", hidden_size=64, num_attention_heads=4, num_labels=3).save_pretrained(
        tmp_path
    )
    theirs = transformers.AutoConfig.from_pretrained(tmp_path)
    assert type(theirs).__name__ == "BertConfig" and theirs.hidden_size == 64 and theirs.num_labels == 3


def test_auto_classes_cannot_be_instantiated() -> None:
    for auto_class in (ah.AutoConfig, ah.AutoModel, ah.AutoTokenizer, ah.AutoModelForTokenClassification):
        with pytest.raises(OSError, match="from_pretrained"):
            auto_class()


def test_errors_are_typed_and_actionable(tmp_path: pathlib.Path) -> None:
    with pytest.raises(CheckpointNotFoundError, match=r"config\.json"):
        ah.AutoConfig.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"config\.json is not valid JSON"):
        ah.AutoConfig.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "t5-not-installed"}))
    with pytest.raises(UnknownModelTypeError, match="pip install autohub-t5-not-installed") as caught:
        ah.AutoConfig.from_pretrained(tmp_path)
    assert "bert" in str(caught.value)  # names the installed families
    (tmp_path / "config.json").write_bytes(b'{"model_type": "bert", "x": "\xff"}')
    with pytest.raises(ConfigError, match="UTF-8"):
        ah.AutoConfig.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="JSON object"):
        ah.AutoConfig.from_pretrained(tmp_path)
    assert issubclass(UnknownModelTypeError, AutohubError)


def test_remote_code_and_tensorflow_are_refused(save_hf_bert) -> None:
    directory = save_hf_bert("BertModel")
    with pytest.raises(UnsupportedFeatureError, match="installed plugins"):
        ah.AutoModel.from_pretrained(directory, trust_remote_code=True)
    with pytest.raises(UnsupportedFeatureError, match="from_tf"):
        ah.AutoModel.from_pretrained(directory, from_tf=True)


class NewModelConfig(PretrainedConfig):
    model_type = "new-model"

    def __init__(self, hidden_size: int = 8, **kwargs: object) -> None:
        self.hidden_size = hidden_size
        super().__init__(**kwargs)


def _new_model_class():
    import torch

    from autohub_core.modeling import PreTrainedModel

    class NewModel(PreTrainedModel):
        config_class = NewModelConfig

        def __init__(self, config: NewModelConfig) -> None:
            super().__init__(config)
            self.proj = torch.nn.Linear(config.hidden_size, config.hidden_size)
            self.post_init()

        def _init_weights(self, module: torch.nn.Module) -> None:
            if isinstance(module, torch.nn.Linear):
                torch.nn.init.ones_(module.weight)
                torch.nn.init.zeros_(module.bias)

        def forward(self, inputs_embeds: torch.Tensor) -> torch.Tensor:
            return self.proj(inputs_embeds)

    return NewModel


def test_runtime_registration_as_in_the_seeds(tmp_path: pathlib.Path) -> None:
    import torch

    new_model = _new_model_class()
    ah.AutoConfig.register("new-model", NewModelConfig, exist_ok=True)
    ah.AutoModel.register(NewModelConfig, new_model, exist_ok=True)
    config = ah.AutoConfig.for_model("new-model", hidden_size=4)
    model = ah.AutoModel.from_config(config)
    assert type(model) is new_model and torch.equal(model.proj.weight, torch.ones(4, 4))
    model.save_pretrained(tmp_path)
    reloaded = ah.AutoModel.from_pretrained(tmp_path)
    assert type(reloaded) is new_model and torch.equal(reloaded.proj.weight, model.proj.weight)

    with pytest.raises(RegistrationError, match="not consistent with the model type"):
        ah.AutoConfig.register("other-name", NewModelConfig)
    with pytest.raises(RegistrationError, match="already used"):
        ah.AutoConfig.register("bert", type("Fake", (PretrainedConfig,), {"model_type": "bert"}))

    class OtherConfig(PretrainedConfig):
        model_type = "other-model"

    with pytest.raises(RegistrationError, match="not consistent with the config class"):
        ah.AutoModelForSequenceClassification.register(OtherConfig, new_model)


def test_runtime_registration_wins_over_the_plugin(save_hf_bert) -> None:
    import autohub_bert.modeling as bert

    class MyBert(bert.BertModel):
        pass

    from autohub_bert.config import BertConfig
    from autohub_core.plugins import reset

    try:
        ah.AutoModel.register(BertConfig, MyBert, exist_ok=True)
        assert type(ah.AutoModel.from_pretrained(save_hf_bert("BertModel"))) is MyBert
    finally:
        reset()  # forget runtime registrations: later tests see the plugin again
    assert type(ah.AutoModel.from_pretrained(save_hf_bert("BertModel"))) is bert.BertModel


def test_unknown_head_names_the_available_ones(save_hf_bert) -> None:
    with pytest.raises(UnknownModelTypeError, match="seq2seq-lm") as caught:
        ah.AutoModelForSeq2SeqLM.from_pretrained(save_hf_bert("BertModel"))
    assert "token-classification" in str(caught.value)


class ThirdPartyConfig(PretrainedConfig):
    model_type = "third-party"

    def __init__(self, hidden_size: int = 8, initializer_range: float = 0.5, **kwargs: object) -> None:
        self.hidden_size = hidden_size
        self.initializer_range = initializer_range
        super().__init__(**kwargs)


def _third_party_model_class(broken: bool = False):
    """A model written as in the seeds' "extending" section: no ``_init_weights`` of its own."""
    import torch

    from autohub_core.modeling import PreTrainedModel

    class Scale(torch.nn.Module):
        def __init__(self, size: int) -> None:
            super().__init__()
            self.factor = torch.nn.Parameter(torch.full((size,), 7.0))

    class ThirdPartyModel(PreTrainedModel):
        config_class = ThirdPartyConfig

        def __init__(self, config: ThirdPartyConfig) -> None:
            super().__init__(config)
            self.embed = torch.nn.Embedding(50, config.hidden_size, padding_idx=0)
            self.proj = torch.nn.Linear(config.hidden_size, config.hidden_size)
            self.norm = torch.nn.LayerNorm(config.hidden_size)
            self.scale = Scale(config.hidden_size)
            if broken:
                self.proj.weight.view(-1, 3, "oops")  # a bug in the model's own code
            self.post_init()

    return ThirdPartyModel


def test_third_party_model_without_init_weights_gets_transformers_default(tmp_path: pathlib.Path) -> None:
    import torch

    model = _third_party_model_class().from_config(ThirdPartyConfig(hidden_size=64))
    assert abs(model.proj.weight.std().item() - 0.5) < 0.05  # N(0, initializer_range)
    assert not model.proj.bias.any() and not model.embed.weight[0].any()  # zero bias, zero padding row
    assert torch.equal(model.norm.weight, torch.ones(64)) and not model.norm.bias.any()
    assert torch.equal(model.scale.factor, torch.full((64,), 7.0))  # unknown module: as constructed
    model.save_pretrained(tmp_path)
    reloaded = _third_party_model_class().from_pretrained(tmp_path)
    assert all(torch.equal(t, reloaded.state_dict()[k]) for k, t in model.state_dict().items())


def test_build_errors_name_the_code_that_raised() -> None:
    with pytest.raises(ConfigError) as caught:
        _third_party_model_class(broken=True).from_config(ThirdPartyConfig())
    message = str(caught.value)
    assert "TypeError" in message and "test_import_and_config.py" in message and "__init__" in message


def test_registering_the_same_mapping_again_is_a_no_op() -> None:
    from autohub_core.plugins import reset

    try:
        model_class = _third_party_model_class()
        for _ in range(2):  # a notebook cell run twice: the classes are even defined anew
            ah.AutoConfig.register("third-party", ThirdPartyConfig)
            ah.AutoModel.register(ThirdPartyConfig, _third_party_model_class())
        ah.AutoModel.register(ThirdPartyConfig, model_class)  # same name, same module: the same mapping
        assert ah.AutoModel.from_config(ThirdPartyConfig()).__class__ is model_class

        class Different(model_class):  # another class for the taken key
            pass

        with pytest.raises(RegistrationError, match="exist_ok=True"):
            ah.AutoModel.register(ThirdPartyConfig, Different)
        other_config = type("ThirdPartyConfig", (PretrainedConfig,), {"model_type": "third-party"})
        other_config.__module__ = "somewhere.else"
        with pytest.raises(RegistrationError, match="already used"):
            ah.AutoConfig.register("third-party", other_config)
        ah.AutoModel.register(ThirdPartyConfig, Different, exist_ok=True)
        assert type(ah.AutoModel.from_config(ThirdPartyConfig())) is Different
    finally:
        reset()
