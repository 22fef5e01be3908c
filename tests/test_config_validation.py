"""Config values are checked by type and range when a config is loaded and when a model is built.

The rules are data (``config_rules`` / ``config_constraints`` of a config class, built from the
helpers of :mod:`autohub_core.configuration`); these tests cover the helpers, the common keys of
every config, rule merging, the messages (key, value, expectation, file), ``num_labels`` caps and
deeply nested values. Only the core and the BERT / GPT-2 plugins are used (no transformers).
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

import autohub_core as ah
from autohub_core import limits
from autohub_core.configuration import (
    ROTARY_DECODER_CONSTRAINTS,
    ROTARY_DECODER_RULES,
    Constraint,
    PretrainedConfig,
    Rule,
    boolean,
    int_or_ints,
    integer,
    list_of,
    mapping,
    multiple_of,
    non_negative_int,
    number,
    one_of,
    optional,
    positive_int,
    probability,
    rope_parameters,
    standardize_rope_parameters,
    string,
    valid_index,
)
from autohub_core.errors import ConfigError, LimitExceededError, UnsupportedConfigError

TINY_BERT = {
    "model_type": "bert",
    "vocab_size": 50,
    "hidden_size": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "max_position_embeddings": 32,
}


@pytest.fixture(autouse=True)
def _default_limits() -> Iterator[None]:
    limits.reset()
    yield
    limits.reset()


def _write_config(directory: Path, values: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(values))
    return directory


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


# -- the rule helpers ------------------------------------------------------------------------

RULE_CASES: list[tuple[Rule, list[Any], list[Any]]] = [
    (positive_int(), [1, 7, 10**30], [0, -1, True, 1.0, "3", None, [1]]),
    (non_negative_int(), [0, 5], [-1, False, 0.5, "0"]),
    (integer(4, 6), [4, 6], [3, 7]),
    (number(0, exclusive_minimum=True), [1e-9, 3, 10**400], [0, -1.0, math.nan, math.inf, "1", True, None]),
    (number(), [-1e30, 0.0], [math.nan, -math.inf]),
    (probability(), [0, 0.5, 1], [-0.1, 1.01, math.nan, "0.1"]),
    (boolean(), [True, False], [0, 1, "true", None]),
    (string(), ["gelu", ""], [1, None, ["gelu"]]),
    (one_of("a", "b"), ["a", "b"], ["c", None, 1]),
    (optional(positive_int()), [None, 3], [0, "x"]),
    (list_of(string()), [[], ["a"]], ["a", [1], None]),
    (int_or_ints(), [3, [1, 2]], [[], ["1"], [1.0], "2", None, True]),
    (mapping({"a": positive_int()}, required=("a",)), [{"a": 1, "other": "kept"}], [{}, {"a": 0}, [1]]),
    (
        rope_parameters(),
        [
            None,
            {"rope_type": "default", "rope_theta": 10000.0},
            {"type": "linear", "factor": 2},
            {"rope_type": "llama3", "factor": 8, "low_freq_factor": 1, "high_freq_factor": 4},
            {"rope_type": "yarn", "factor": 4.0, "attention_factor": None, "beta_fast": None},
            {"rope_type": "longrope", "short_factor": [1.0], "long_factor": [2.0], "factor": None},
            {"rope_type": "something-new", "rope_theta": 5.0},
        ],
        [
            [1],
            {"rope_type": 3},
            {"rope_type": "default", "rope_theta": "10000"},
            {"rope_type": "default", "rope_theta": None},
            {"rope_type": "linear"},
            {"rope_type": "linear", "factor": "2"},
            {"rope_type": "dynamic", "factor": -1},
            {"rope_type": "llama3", "low_freq_factor": 1, "high_freq_factor": 4},
            {"rope_type": "llama3", "factor": 8, "high_freq_factor": 4},
            {"rope_type": "llama3", "factor": 8, "low_freq_factor": 4, "high_freq_factor": 4},
            {
                "rope_type": "llama3",
                "factor": 8,
                "low_freq_factor": 1,
                "high_freq_factor": 4,
                "original_max_position_embeddings": 0,
            },
            {"rope_type": "yarn", "beta_fast": "32"},
            {"rope_type": "longrope", "short_factor": [1.0]},
            {"rope_type": "longrope", "short_factor": ["1"], "long_factor": [1.0]},
            {"rope_type": "default", "partial_rotary_factor": 0},
        ],
    ),
]


@pytest.mark.parametrize(
    ("rule", "good", "bad"), RULE_CASES, ids=[case[0].expected[:40] for case in RULE_CASES]
)
def test_rule_helpers_accept_and_refuse(rule: Rule, good: list[Any], bad: list[Any]) -> None:
    for value in good:
        assert rule.problem(value) is None, value
        rule.check("key", value)
    for value in bad:
        assert rule.problem(value) is not None, value
        with pytest.raises(ConfigError, match="config key 'key' = "):
            rule.check("key", value, "some/config.json")


def test_unsupported_rules_raise_the_unsupported_error() -> None:
    with pytest.raises(
        UnsupportedConfigError, match="'kind' = 'c' is not implemented: expected one of 'a', 'b'"
    ):
        one_of("a", "b", unsupported=True).check("kind", "c")
    with pytest.raises(UnsupportedConfigError):
        optional(one_of("a", unsupported=True)).check("kind", "b")


def test_messages_name_the_key_the_value_the_expectation_and_the_file() -> None:
    with pytest.raises(ConfigError) as caught:
        positive_int().check("hidden_size", "64", "model/config.json")
    assert str(caught.value) == (
        "model/config.json: config key 'hidden_size' = '64' is invalid: expected an integer >= 1"
    )
    huge = {"rope_type": "linear", "factor": "x" * 10_000}
    with pytest.raises(ConfigError) as caught:
        rope_parameters().check("rope_parameters", huge)
    assert "its key 'factor'" in str(caught.value) and len(str(caught.value)) < 400


# -- declaring rules --------------------------------------------------------------------------


class _BaseFamilyConfig(PretrainedConfig):
    model_type = "rule-test-base"
    config_rules: ClassVar[dict[str, Rule]] = {"width": positive_int(), "act": string()}
    config_constraints = (multiple_of("width", "heads"),)

    def __init__(self, width: int = 8, heads: int = 2, act: str = "relu", **kwargs: Any) -> None:
        self.width = width
        self.heads = heads
        self.act = act
        super().__init__(**kwargs)


class _DerivedFamilyConfig(_BaseFamilyConfig):
    model_type = "rule-test-derived"
    config_rules: ClassVar[dict[str, Rule]] = {"act": one_of("relu", "gelu"), "heads": positive_int()}


def test_rules_of_subclasses_merge_with_their_bases() -> None:
    rules = _DerivedFamilyConfig.merged_rules()
    assert {"width", "act", "heads", "pad_token_id", "return_dict", "rms_norm_eps"} - set(rules) == {
        "rms_norm_eps"
    }
    assert rules["act"].expected == "one of 'relu', 'gelu'"
    assert _DerivedFamilyConfig.merged_constraints() == _BaseFamilyConfig.config_constraints
    _BaseFamilyConfig(act="anything")
    with pytest.raises(ConfigError, match="'act' = 'anything'"):
        _DerivedFamilyConfig(act="anything")
    with pytest.raises(ConfigError, match="'heads' = 0"):
        _DerivedFamilyConfig.from_dict({"heads": 0})
    _DerivedFamilyConfig(width=9, heads=2)  # built key by key: relations are checked on load
    with pytest.raises(ConfigError, match="'width' must be a multiple of 'heads'"):
        _DerivedFamilyConfig.from_dict({"width": 9, "heads": 2})
    with pytest.raises(ConfigError, match="'width' must be a multiple of 'heads'"):
        _DerivedFamilyConfig(width=9, heads=2).validate()
    with pytest.raises(ConfigError, match="'pad_token_id' = 'x'"):
        _DerivedFamilyConfig(pad_token_id="x")


def test_constraints_relate_keys_and_skip_unset_ones() -> None:
    index = valid_index("pad_token_id", "vocab_size")
    assert index.holds(-1, 10) and index.holds(9, 10) and not index.holds(10, 10)
    assert multiple_of("a", "b").holds(6, 3) and not multiple_of("a", "b").holds(7, 3)
    relation = Constraint(("a", "b"), "a below b", lambda a, b: a < b)

    class Related(PretrainedConfig):
        model_type = "rule-test-related"
        config_constraints = (relation,)

    Related.from_dict({"a": 1})
    Related.from_dict({"a": 1, "b": None})
    with pytest.raises(ConfigError, match="a = 2, b = 1 are inconsistent: a below b"):
        Related.from_dict({"a": 2, "b": 1})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("return_dict", None),
        ("output_attentions", "yes"),
        ("tie_word_embeddings", 1),
        ("is_encoder_decoder", "false"),
        ("problem_type", "ranking"),
        ("pad_token_id", "0"),
        ("bos_token_id", 1.5),
        ("eos_token_id", ["2"]),
        ("eos_token_id", []),
        ("decoder_start_token_id", True),
        ("chunk_size_feed_forward", -1),
        ("architectures", "BertModel"),
        ("dtype", 16),
        ("dtype", "float13"),
        ("dtype", "torch.float13"),
        ("id2label", ["NEG", "POS"]),
        ("id2label", {"1000000000": "X"}),
        ("id2label", {"0": "NEG", "2": "POS"}),
        ("label2id", "NEG"),
    ],
)
def test_common_keys_are_checked_at_load(tmp_path: Path, key: str, value: Any) -> None:
    directory = _write_config(tmp_path / "model", {**TINY_BERT, key: value})
    with pytest.raises(ConfigError) as caught:
        ah.AutoConfig.from_pretrained(directory)
    message = str(caught.value)
    assert str(directory / "config.json") in message and repr(key) in message


@pytest.mark.parametrize("name", ["float32", "bfloat16", "float16", "torch.float16", "float8_e4m3fn", "int8"])
def test_torch_dtype_names_load(tmp_path: Path, name: str) -> None:
    directory = _write_config(tmp_path / "model", {**TINY_BERT, "torch_dtype": name})
    assert ah.AutoConfig.from_pretrained(directory).dtype == name.removeprefix("torch.")


def test_valid_common_values_load(tmp_path: Path) -> None:
    values = {
        **TINY_BERT,
        "eos_token_id": [1, 2],
        "pad_token_id": -1,
        "problem_type": "regression",
        "dtype": "bfloat16",
        "architectures": ["BertModel"],
        "return_dict": False,
        "label2id": None,
    }
    config = ah.AutoConfig.from_pretrained(_write_config(tmp_path / "model", values))
    assert config.eos_token_id == [1, 2] and config.pad_token_id == -1 and config.return_dict is False


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"hidden_size": "16"}, "hidden_size"),
        ({"num_attention_heads": 0}, "num_attention_heads"),
        ({"hidden_size": 18, "num_attention_heads": 4}, "num_attention_heads"),
        ({"layer_norm_eps": None}, "layer_norm_eps"),
        ({"layer_norm_eps": -1e-12}, "layer_norm_eps"),
        ({"hidden_dropout_prob": 1.5}, "hidden_dropout_prob"),
        ({"hidden_act": 3}, "hidden_act"),
        ({"pad_token_id": 50}, "pad_token_id"),
        ({"initializer_range": "0.02"}, "initializer_range"),
    ],
)
def test_bert_values_are_checked_at_load(tmp_path: Path, overrides: dict[str, Any], key: str) -> None:
    directory = _write_config(tmp_path / "model", {**TINY_BERT, **overrides})
    with pytest.raises(ConfigError, match=repr(key)):
        ah.AutoConfig.from_pretrained(directory)
    with pytest.raises(ConfigError, match=repr(key)):
        ah.AutoModel.from_pretrained(directory)


def test_unimplemented_values_are_unsupported_at_load(tmp_path: Path) -> None:
    directory = _write_config(tmp_path / "model", {**TINY_BERT, "position_embedding_type": "rotary"})
    with pytest.raises(UnsupportedConfigError, match="position_embedding_type"):
        ah.AutoConfig.from_pretrained(directory)


def test_gpt2_aliases_are_checked_under_the_name_given(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'hidden_size' = -4"):
        ah.AutoConfig.from_pretrained(
            _write_config(tmp_path / "alias", {"model_type": "gpt2", "hidden_size": -4})
        )
    with pytest.raises(ConfigError, match="'n_embd' = -4"):
        ah.AutoConfig.for_model("gpt2", hidden_size=-4)
    directory = _write_config(tmp_path / "gpt2", {"model_type": "gpt2", "n_embd": 30, "n_head": 4})
    with pytest.raises(ConfigError, match="'n_embd' must be a multiple of 'n_head'"):
        ah.AutoConfig.from_pretrained(directory)


def test_keys_no_family_reads_are_kept_unchecked(tmp_path: Path) -> None:
    extra = {"my_key": {"nested": [1, "two", None]}, "summary_type": 5, "max_length": "anything"}
    config = ah.AutoConfig.from_pretrained(_write_config(tmp_path / "model", {**TINY_BERT, **extra}))
    config.save_pretrained(tmp_path / "saved")
    saved = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert {key: saved[key] for key in extra} == extra


def test_models_check_their_config_when_built(tmp_path: Path) -> None:
    config = ah.AutoConfig.for_model("bert", **{k: v for k, v in TINY_BERT.items() if k != "model_type"})
    config.hidden_size = "16"
    with pytest.raises(ConfigError, match="'hidden_size' = '16'"):
        ah.AutoModel.from_config(config)
    good = ah.AutoConfig.for_model("bert", **{k: v for k, v in TINY_BERT.items() if k != "model_type"})
    ah.AutoModel.from_config(good).save_pretrained(tmp_path / "model")
    good.layer_norm_eps = -1.0
    with pytest.raises(ConfigError, match=r"'layer_norm_eps' = -1\.0"):
        ah.AutoModel.from_pretrained(tmp_path / "model", config=good)
    with pytest.raises(ConfigError, match="'layer_norm_eps' = nan"):
        ah.AutoModel.from_pretrained(tmp_path / "model", layer_norm_eps=math.nan)


# -- rotary decoders: the rules the core declares for them --------------------------------------


class _RotaryConfig(PretrainedConfig):
    model_type = "rule-test-rotary"
    attribute_map: ClassVar[dict[str, str]] = {"rope_scaling": "rope_parameters"}
    config_rules = ROTARY_DECODER_RULES
    config_constraints = ROTARY_DECODER_CONSTRAINTS

    def __init__(
        self,
        hidden_size: int = 16,
        num_attention_heads: int = 4,
        num_key_value_heads: int | None = None,
        rope_parameters: dict[str, Any] | None = None,
        rope_scaling: dict[str, Any] | None = None,
        rope_theta: float = 10000.0,
        rms_norm_eps: float = 1e-6,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = 32
        self.hidden_size = hidden_size
        self.intermediate_size = 32
        self.num_hidden_layers = 1
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_attention_heads if num_key_value_heads is None else num_key_value_heads
        self.head_dim = hidden_size // num_attention_heads
        self.hidden_act = "silu"
        self.max_position_embeddings = 64
        self.rms_norm_eps = rms_norm_eps
        self.rope_parameters = standardize_rope_parameters(rope_parameters, rope_scaling, rope_theta, 64)
        super().__init__(**kwargs)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"rope_theta": "10000"}, "'rope_theta' = '10000'"),
        ({"rope_scaling": {"rope_type": "linear", "factor": "2"}}, "its key 'factor' = '2'"),
        (
            {"rope_scaling": {"rope_type": "llama3", "low_freq_factor": 1, "high_freq_factor": 4}},
            "needs the key",
        ),
        (
            {"rope_parameters": {"rope_type": "llama3", "factor": 8.0}},
            "'low_freq_factor', 'high_freq_factor'",
        ),
        ({"rms_norm_eps": None}, "'rms_norm_eps' = None"),
        ({"rms_norm_eps": -1e-6}, "'rms_norm_eps' = -1e-06"),
        ({"num_attention_heads": 0}, "'num_attention_heads' = 0"),
        ({"num_attention_heads": 4, "num_key_value_heads": 3}, "'num_attention_heads' must be a multiple"),
    ],
)
def test_red_team_rotary_values_fail_at_load(tmp_path: Path, values: dict[str, Any], message: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(values))
    with pytest.raises(ConfigError, match=message) as caught:
        _RotaryConfig.from_json_file(path)
    assert str(path) in str(caught.value)


def test_legacy_rope_keys_load_into_rope_parameters() -> None:
    config = _RotaryConfig.from_dict(
        {"rope_scaling": {"type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0}}
    )
    assert config.rope_parameters["original_max_position_embeddings"] == 64
    assert config.rope_parameters["rope_theta"] == 10000.0


# -- num_labels -------------------------------------------------------------------------------


def test_huge_num_labels_is_refused_before_building_labels(tmp_path: Path) -> None:
    directory = _write_config(tmp_path / "model", {**TINY_BERT, "num_labels": 1_000_000_000})
    started = time.perf_counter()
    with pytest.raises(LimitExceededError, match="max_num_labels") as caught:
        ah.AutoConfig.from_pretrained(directory)
    assert str(directory / "config.json") in str(caught.value)
    with pytest.raises(LimitExceededError, match="AUTOHUB_MAX_NUM_LABELS"):
        ah.AutoConfig.from_pretrained(_write_config(tmp_path / "fine", TINY_BERT), num_labels=10**9)
    with pytest.raises(LimitExceededError):
        ah.AutoConfig.for_model("bert", num_labels=10**9)
    with pytest.raises(LimitExceededError):
        ah.AutoModelForSequenceClassification.from_pretrained(tmp_path / "fine", num_labels=10**9)
    config = ah.AutoConfig.for_model("bert")
    with pytest.raises(LimitExceededError):
        config.num_labels = 10**9
    assert time.perf_counter() - started < 10


def test_label_tables_are_capped_by_the_limit(tmp_path: Path) -> None:
    limits.configure(max_num_labels=4)
    ah.AutoConfig.for_model("bert", num_labels=4)
    table = {str(index): f"L{index}" for index in range(5)}
    directory = _write_config(tmp_path / "model", {**TINY_BERT, "id2label": table})
    with pytest.raises(LimitExceededError, match="id2label has 5 labels"):
        ah.AutoConfig.from_pretrained(directory)
    directory = _write_config(
        tmp_path / "other", {**TINY_BERT, "label2id": {v: int(k) for k, v in table.items()}}
    )
    with pytest.raises(LimitExceededError, match="label2id has 5 labels"):
        ah.AutoConfig.from_pretrained(directory)


@pytest.mark.parametrize("value", [True, -1, 2.0, "3", None, [2]])
def test_num_labels_must_be_a_non_negative_integer(tmp_path: Path, value: Any) -> None:
    directory = _write_config(tmp_path / "model", {**TINY_BERT, "num_labels": value})
    with pytest.raises(ConfigError, match="'num_labels'"):
        ah.AutoConfig.from_pretrained(directory)


# -- deeply nested values -----------------------------------------------------------------------


def test_values_nested_too_deeply_to_copy_raise_a_config_error(tmp_path: Path) -> None:
    config = ah.AutoConfig.for_model("bert", my_key=_nested(100_000))
    for use in (config.to_dict, config.to_json_string, lambda: copy.deepcopy(config), repr):
        with pytest.raises(ConfigError, match="nested too deeply"):
            use(config) if use is repr else use()
    with pytest.raises(ConfigError, match="nested too deeply"):
        config.save_pretrained(tmp_path / "saved")
    with pytest.raises(ConfigError, match="nested too deeply"):
        ah.AutoModel.from_config(config)


def test_deep_but_reasonable_values_round_trip(tmp_path: Path) -> None:
    config = ah.AutoConfig.for_model("bert", my_key=_nested(20))
    config.save_pretrained(tmp_path)
    assert ah.AutoConfig.from_pretrained(tmp_path).my_key == _nested(20)
    assert copy.deepcopy(config) == config
