"""Every family's value rules: transformers' configs of each family (defaults and the variants real
checkpoints use) still load, and values of the wrong type or range fail at load naming the key.

transformers writes the configs, so this file is left out of the dependency floors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import transformers

import autohub_core as ah
from autohub_core.errors import ConfigError, UnsupportedConfigError

LLAMA3_ROPE = {
    "rope_type": "llama3",
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
}
TRANSFORMERS_CONFIGS = {
    "bert": lambda: transformers.BertConfig(),
    "roberta": lambda: transformers.RobertaConfig(),
    "xlm-roberta": lambda: transformers.XLMRobertaConfig(),
    "distilbert": lambda: transformers.DistilBertConfig(sinusoidal_pos_embds=True),
    "gpt2": lambda: transformers.GPT2Config(n_inner=1024),
    "t5": lambda: transformers.T5Config(),
    "flan-t5": lambda: transformers.T5Config(feed_forward_proj="gated-gelu", num_decoder_layers=2),
    "llama": lambda: transformers.LlamaConfig(),
    "llama3": lambda: transformers.LlamaConfig(rope_scaling=LLAMA3_ROPE, max_position_embeddings=131072),
    "llama-linear": lambda: transformers.LlamaConfig(rope_scaling={"type": "linear", "factor": 2.0}),
    "llama-dynamic": lambda: transformers.LlamaConfig(rope_scaling={"rope_type": "dynamic", "factor": 2.0}),
    "mistral": lambda: transformers.MistralConfig(),
    "mistral-full": lambda: transformers.MistralConfig(sliding_window=None),
    "qwen2": lambda: transformers.Qwen2Config(),
    "qwen2-sliding": lambda: transformers.Qwen2Config(use_sliding_window=True, max_window_layers=4),
    "qwen2-yarn": lambda: transformers.Qwen2Config(
        rope_scaling={"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}
    ),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMERS_CONFIGS))
def test_transformers_configs_load(tmp_path: Path, name: str) -> None:
    TRANSFORMERS_CONFIGS[name]().save_pretrained(tmp_path)
    config = ah.AutoConfig.from_pretrained(tmp_path)
    config.validate()
    saved = json.loads((tmp_path / "config.json").read_text())
    assert type(config).model_type == saved["model_type"]


def _load(tmp_path: Path, model_type: str, values: dict[str, Any]) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": model_type, **values}))
    ah.AutoConfig.from_pretrained(tmp_path)


@pytest.mark.parametrize(
    ("model_type", "values", "key"),
    [
        ("llama", {"rope_theta": "10000"}, "rope_theta"),
        ("llama", {"rope_scaling": {"rope_type": "linear", "factor": "2"}}, "factor"),
        (
            "llama",
            {"rope_scaling": {"rope_type": "llama3", "low_freq_factor": 1, "high_freq_factor": 4}},
            "factor",
        ),
        ("llama", {"rope_scaling": {"rope_type": "llama3", "factor": 8.0}}, "low_freq_factor"),
        ("llama", {"rms_norm_eps": None}, "rms_norm_eps"),
        ("llama", {"rms_norm_eps": -1e-6}, "rms_norm_eps"),
        ("llama", {"num_key_value_heads": 5}, "num_key_value_heads"),
        ("llama", {"attention_bias": "false"}, "attention_bias"),
        ("llama", {"head_dim": 0}, "head_dim"),
        ("mistral", {"sliding_window": 0}, "sliding_window"),
        ("mistral", {"attention_dropout": 2}, "attention_dropout"),
        ("qwen2", {"max_window_layers": -1}, "max_window_layers"),
        ("qwen2", {"use_sliding_window": "yes"}, "use_sliding_window"),
        ("qwen2", {"layer_types": ["full_attention"], "num_hidden_layers": 2}, "layer_types"),
        ("t5", {"relative_attention_num_buckets": 2}, "relative_attention_num_buckets"),
        ("t5", {"relative_attention_max_distance": 4}, "relative_attention_max_distance"),
        ("t5", {"layer_norm_epsilon": "1e-6"}, "layer_norm_epsilon"),
        ("t5", {"dropout_rate": -0.1}, "dropout_rate"),
        ("t5", {"num_decoder_layers": -1}, "num_decoder_layers"),
        ("distilbert", {"dim": 100, "n_heads": 12}, "n_heads"),
        ("distilbert", {"sinusoidal_pos_embds": "yes"}, "sinusoidal_pos_embds"),
        ("distilbert", {"qa_dropout": 1.5}, "qa_dropout"),
        ("roberta", {"pad_token_id": None}, "pad_token_id"),
        ("roberta", {"type_vocab_size": 0}, "type_vocab_size"),
        ("gpt2", {"n_inner": 0}, "n_inner"),
        ("gpt2", {"layer_norm_epsilon": float("nan")}, "layer_norm_epsilon"),
        ("gpt2", {"scale_attn_weights": None}, "scale_attn_weights"),
    ],
)
def test_family_values_fail_at_load_naming_the_key(
    tmp_path: Path, model_type: str, values: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigError, match=key) as caught:
        _load(tmp_path, model_type, values)
    assert str(tmp_path / "config.json") in str(caught.value)


def test_unimplemented_values_are_refused_as_unsupported(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedConfigError, match="position_embedding_type"):
        _load(tmp_path, "roberta", {"position_embedding_type": "rotary"})
    with pytest.raises(UnsupportedConfigError, match="feed_forward_proj"):
        _load(tmp_path, "t5", {"feed_forward_proj": "gated-"})
    unimplemented = {"rope_type": "proportional"}
    config = ah.AutoConfig.for_model(
        "qwen2",
        num_hidden_layers=1,
        hidden_size=16,
        num_attention_heads=2,
        num_key_value_heads=2,
        intermediate_size=32,
        vocab_size=32,
        rope_parameters=unimplemented,
    )
    with pytest.raises(UnsupportedConfigError, match="rope_parameters"):
        ah.AutoModel.from_config(config)
