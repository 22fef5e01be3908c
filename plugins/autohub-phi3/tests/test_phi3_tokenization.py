"""Phi3Tokenizer against transformers' AutoTokenizer on Phi-3-shaped checkpoints.

The SentencePiece model is a byte-fallback BPE trained on the shared test corpus the way Llama's
was; the checkpoint files are shaped as the Hub's Phi-3 repos ship them: a tokenizer.json as
transformers' LlamaConverter writes it (``Prepend("▁")`` + ``Replace`` normaliser) with Phi-3's
added tokens after the vocabulary (``<|endoftext|>``, then ``<|assistant|>`` ... ``<|user|>``,
right-stripping), with or without a ``<s>`` template, and tokenizer_config.json of
Phi-3-mini-4k-instruct (``LlamaTokenizer`` named, left padding, no bos added, its chat template);
or the ``tokenizer.model`` alone with that tokenizer_config.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import transformers
from tokenizers import AddedToken, processors

from autohub_core import AutoTokenizer

sys.path.insert(0, str(Path(__file__).parents[3] / "tests"))  # the repository's shared test helpers
from sentencepiece_shapes import _hub_llama_json, _train
from test_tokenizers_alignment import TEXTS
from tokenizer_shapes import corpus

transformers.logging.set_verbosity_error()

#: Phi-3's added tokens, in id order after the SentencePiece vocabulary (32000 on the Hub).
PHI3_ADDED = [
    "<|endoftext|>",
    "<|assistant|>",
    "<|placeholder1|>",
    "<|placeholder2|>",
    "<|placeholder3|>",
    "<|placeholder4|>",
    "<|system|>",
    "<|end|>",
    "<|placeholder5|>",
    "<|placeholder6|>",
    "<|user|>",
]
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'system' %}"
    "{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}"
    "{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}"
    "{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
)
#: tokenizer_config.json of microsoft/Phi-3-mini-4k-instruct (without added_tokens_decoder).
HUB_CONFIG = {
    "add_bos_token": False,
    "add_eos_token": False,
    "bos_token": "<s>",
    "chat_template": CHAT_TEMPLATE,
    "clean_up_tokenization_spaces": False,
    "eos_token": "<|endoftext|>",
    "legacy": False,
    "model_max_length": 4096,
    "pad_token": "<|endoftext|>",
    "padding_side": "left",
    "sp_model_kwargs": {},
    "tokenizer_class": "LlamaTokenizer",
    "unk_token": "<unk>",
    "use_default_system_prompt": False,
}
PHI3_TEXTS = [
    "<|user|>\nHello there<|end|>\n<|assistant|>\n",
    "<|system|> be brief <|end|>  <|user|>  two spaces<|end|><|endoftext|>",
    "literal <|placeholder3|>and <unk> <s></s> inside",
]
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Hello, who are you?"},
    {"role": "assistant", "content": "I am Phi.  Ask away!"},
    {"role": "user", "content": "東京 🙂 café?"},
]


def _phi3_json(model_path: Path, bos_template: bool) -> str:
    tokenizer = _hub_llama_json(model_path, legacy=True, add_prefix_space=True)
    tokenizer.add_special_tokens(
        [
            AddedToken(token, special=True, normalized=False, rstrip=token != "<|endoftext|>")
            for token in PHI3_ADDED
        ]
    )
    if not bos_template:
        tokenizer.post_processor = processors.TemplateProcessing(single="$A:0", pair="$A:0 $B:1")
    return tokenizer.to_str()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("phi3-tokenizer")
    model_path = root / "tokenizer.model"
    model_path.write_bytes(
        _train(
            model_type="bpe",
            vocab_size=600,
            byte_fallback=True,
            normalization_rule_name="identity",
            remove_extra_whitespaces=False,
            split_digits=True,
            allow_whitespace_only_pieces=True,
        )
    )
    shapes = {
        "json-bos-template": ("tokenizer.json", _phi3_json(model_path, bos_template=True)),
        "json-no-template": ("tokenizer.json", _phi3_json(model_path, bos_template=False)),
        "model-only": ("tokenizer.model", model_path.read_bytes()),
    }
    directories = {}
    for name, (filename, content) in shapes.items():
        directory = root / name
        directory.mkdir()
        target = directory / filename
        target.write_text(content, encoding="utf-8") if isinstance(content, str) else target.write_bytes(
            content
        )
        (directory / "tokenizer_config.json").write_text(json.dumps(HUB_CONFIG), encoding="utf-8")
        (directory / "config.json").write_text(json.dumps({"model_type": "phi3"}), encoding="utf-8")
        directories[name] = directory
    return directories


def _both(directory: Path, **kwargs: Any) -> tuple[Any, Any]:
    return AutoTokenizer.from_pretrained(directory, **kwargs), transformers.AutoTokenizer.from_pretrained(
        directory, **kwargs
    )


@pytest.mark.parametrize("shape", ["json-bos-template", "json-no-template", "model-only"])
def test_ids_and_decode_match_transformers(checkpoints: dict[str, Path], shape: str) -> None:
    ours, theirs = _both(checkpoints[shape])
    assert type(ours).__name__ == "Phi3Tokenizer" and type(theirs).__name__ == "TokenizersBackend"
    texts = TEXTS + PHI3_TEXTS + corpus()
    expected = theirs(texts)["input_ids"]
    assert ours(texts)["input_ids"] == expected
    for ids in expected[: len(TEXTS) + len(PHI3_TEXTS)] + expected[-60:]:
        for skip in (False, True):
            assert ours.decode(ids, skip_special_tokens=skip) == theirs.decode(ids, skip_special_tokens=skip)
    batch = ours(PHI3_TEXTS, padding=True)
    assert ours.padding_side == theirs.padding_side == "left"
    assert batch["input_ids"] == theirs(PHI3_TEXTS, padding=True)["input_ids"]
    assert (ours.eos_token, ours.pad_token, ours.bos_token) == ("<|endoftext|>", "<|endoftext|>", "<s>")


def test_add_bos_token_argument_rebuilds_the_template(checkpoints: dict[str, Path]) -> None:
    ours, theirs = _both(checkpoints["json-no-template"], add_bos_token=True, add_eos_token=True)
    assert ours(PHI3_TEXTS)["input_ids"] == theirs(PHI3_TEXTS)["input_ids"]


@pytest.mark.parametrize("add_generation_prompt", [True, False])
def test_chat_template_matches_transformers(
    checkpoints: dict[str, Path], add_generation_prompt: bool
) -> None:
    ours, theirs = _both(checkpoints["json-bos-template"])
    text = ours.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=add_generation_prompt)
    assert text == theirs.apply_chat_template(
        MESSAGES, tokenize=False, add_generation_prompt=add_generation_prompt
    )
    assert text.endswith("<|assistant|>\n" if add_generation_prompt else "<|end|>\n<|endoftext|>")
    ids = ours.apply_chat_template(MESSAGES, add_generation_prompt=add_generation_prompt, return_dict=False)
    assert ids == theirs.apply_chat_template(
        MESSAGES, add_generation_prompt=add_generation_prompt, return_dict=False
    )


def test_save_pretrained_round_trips_both_ways(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    ours, theirs = _both(checkpoints["json-bos-template"])
    ours.save_pretrained(tmp_path / "ours")
    theirs.save_pretrained(tmp_path / "theirs")
    for directory in (tmp_path / "ours", tmp_path / "theirs"):
        (directory / "config.json").write_text(json.dumps({"model_type": "phi3"}), encoding="utf-8")
        again, reference = _both(directory)
        assert again(PHI3_TEXTS + TEXTS)["input_ids"] == theirs(PHI3_TEXTS + TEXTS)["input_ids"]
        assert reference(PHI3_TEXTS)["input_ids"] == theirs(PHI3_TEXTS)["input_ids"]
        assert again.apply_chat_template(MESSAGES, tokenize=False) == theirs.apply_chat_template(
            MESSAGES, tokenize=False
        )
