"""Shared fixture: CLIP tokenizer files built here the way OpenAI's are laid out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, trainers
from tokenizers.models import BPE

from autohub_clip.tokenization import SPLIT_PATTERN

CORPUS = [
    "a photo of a cat",
    "a photo of a dog sleeping on the sofa",
    "a photo of a bird sitting on a branch",
    "the quick brown fox jumps over the lazy dog",
    "it's a dog's life, isn't it? we'll see, they'd say, you're right, i've been, i'm here",
    "café naïve résumé Ångström",
    "photograph photography photos photographer",
    "1234 5678 90",
    "hello world!!! what?! ... (yes) [no] {maybe}",
]
MAX_LENGTH = 77


def _train_merges() -> list[tuple[str, str]]:
    """BPE merges learnt on CORPUS through CLIP's normalizer and pre-tokenizer."""
    backend = Tokenizer(BPE(end_of_word_suffix="</w>", unk_token="<|endoftext|>"))
    backend.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=700,
        end_of_word_suffix="</w>",
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(CORPUS * 10, trainer)
    merges = json.loads(backend.to_str())["model"]["merges"]
    return [tuple(merge) if isinstance(merge, list) else tuple(merge.split(" ")) for merge in merges]


@pytest.fixture(scope="session")
def legacy_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """vocab.json + merges.txt + tokenizer_config.json laid out as openai/clip-vit-base-patch32's: the
    256 byte symbols, the same with ``</w>``, one token per merge, then the two special tokens."""
    directory = tmp_path_factory.mktemp("clip-legacy")
    merges = _train_merges()
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokens = [*alphabet, *(symbol + "</w>" for symbol in alphabet), *("".join(m) for m in merges)]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    (directory / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    lines = ["#version: 0.2", *(" ".join(merge) for merge in merges)]
    (directory / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    special = {"lstrip": False, "normalized": True, "rstrip": False, "single_word": False}
    config = {
        "add_prefix_space": False,
        "bos_token": {"__type": "AddedToken", "content": "<|startoftext|>", **special},
        "do_lower_case": True,
        "eos_token": {"__type": "AddedToken", "content": "<|endoftext|>", **special},
        "errors": "replace",
        "model_max_length": MAX_LENGTH,
        "pad_token": "<|endoftext|>",
        "tokenizer_class": "CLIPTokenizer",
        "unk_token": {"__type": "AddedToken", "content": "<|endoftext|>", **special},
    }
    (directory / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return directory
