"""Tiny, realistic Whisper files for the tests: a byte-level BPE trained on a few sentences with
Whisper's special tokens in Whisper's id order, a whisper-tiny-shaped config and the Hub's
generation_config.json keys, all shrunk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

from autohub_whisper.languages import LANGUAGES

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Mr. Quilter is the apostle of the middle classes, and we are glad to welcome his gospel.",
    "Nor is Mr. Quilter's manner less interesting than his matter.",
    "He tells us that at this festive season of the year, with Christmas and roast beef looming before us.",
    "Bonjour, comment allez-vous? Très bien, merci!",
    "Whisper is a general-purpose speech recognition model. 1234567890",
]
#: whisper-tiny's special tokens after <|endoftext|>, in id order (99 languages: no "yue").
LANGUAGE_TOKENS = [f"<|{code}|>" for code in list(LANGUAGES)[:99]]
SPECIALS = [
    "<|endoftext|>",
    "<|startoftranscript|>",
    *LANGUAGE_TOKENS,
    "<|translate|>",
    "<|transcribe|>",
    "<|startoflm|>",
    "<|startofprev|>",
    "<|nocaptions|>",
    "<|notimestamps|>",
]
TIMESTAMPS = [f"<|{i * 0.02:.2f}|>" for i in range(1501)]


def build_backend() -> Tokenizer:
    """The BPE trained on SENTENCES, then the special tokens and the (non-special) timestamp tokens."""
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    backend.train_from_iterator(SENTENCES, trainer)
    backend.add_tokens([AddedToken(token, special=True, normalized=False) for token in SPECIALS])
    backend.add_tokens([AddedToken(token, special=False, normalized=False) for token in TIMESTAMPS])
    return backend


def ids() -> dict[str, int]:
    backend = build_backend()
    return {token: backend.token_to_id(token) for token in SPECIALS}


def write_tokenizer(directory: Path, legacy: bool = False) -> Tokenizer:
    """tokenizer.json (or vocab.json + merges.txt) and tokenizer_config.json as the Hub's whisper-tiny has them."""
    directory.mkdir(parents=True, exist_ok=True)
    backend = build_backend()
    added = {
        str(backend.token_to_id(token)): {
            "content": token,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": token in SPECIALS,
        }
        for token in SPECIALS + TIMESTAMPS
    }
    config = {
        "tokenizer_class": "WhisperTokenizer",
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "additional_special_tokens": SPECIALS,
        "model_max_length": 1024,
        "clean_up_tokenization_spaces": True,
        "added_tokens_decoder": added,
    }
    (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    if legacy:
        document = json.loads(backend.to_str())
        vocab = document["model"]["vocab"]
        merges = document["model"]["merges"]
        (directory / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
        lines = [" ".join(merge) if isinstance(merge, list) else merge for merge in merges]
        (directory / "merges.txt").write_text("#version: 0.2\n" + "\n".join(lines) + "\n", encoding="utf-8")
    else:
        backend.save(str(directory / "tokenizer.json"))
    return backend


def tiny_config_kwargs(vocab_size: int) -> dict[str, Any]:
    """whisper-tiny's config.json keys, shrunk (token ids of the tiny vocabulary)."""
    token = ids()
    return {
        "vocab_size": vocab_size,
        "num_mel_bins": 80,
        "d_model": 16,
        "encoder_layers": 2,
        "decoder_layers": 2,
        "encoder_attention_heads": 2,
        "decoder_attention_heads": 2,
        "encoder_ffn_dim": 32,
        "decoder_ffn_dim": 32,
        "max_source_positions": 1500,
        "max_target_positions": 448,
        "activation_function": "gelu",
        "decoder_start_token_id": token["<|startoftranscript|>"],
        "pad_token_id": token["<|endoftext|>"],
        "bos_token_id": token["<|endoftext|>"],
        "eos_token_id": token["<|endoftext|>"],
        "begin_suppress_tokens": [220, token["<|endoftext|>"]],
        "suppress_tokens": [1, 2, 7, 8, 9, 10, 14, 25, 26, 27, 28, 29, 31, 58, 59],
        "forced_decoder_ids": [
            [1, token["<|en|>"]],
            [2, token["<|transcribe|>"]],
            [3, token["<|notimestamps|>"]],
        ],
        "scale_embedding": False,
        "use_cache": True,
        "num_hidden_layers": 2,
        "apply_spec_augment": False,
        "median_filter_width": 7,
        "classifier_proj_size": 24,
        "init_std": 0.02,
    }


def generation_config(vocab_size: int) -> dict[str, Any]:
    """generation_config.json as the Hub ships it for whisper-tiny, with the tiny vocabulary's ids."""
    token = ids()
    return {
        "alignment_heads": [[1, 0], [1, 1]],
        "begin_suppress_tokens": [220, token["<|endoftext|>"]],
        "bos_token_id": token["<|endoftext|>"],
        "decoder_start_token_id": token["<|startoftranscript|>"],
        "eos_token_id": token["<|endoftext|>"],
        "forced_decoder_ids": [[1, None], [2, token["<|transcribe|>"]]],
        "is_multilingual": True,
        "lang_to_id": {name: token[name] for name in LANGUAGE_TOKENS},
        "max_initial_timestamp_index": 50,
        "max_length": 448,
        "no_timestamps_token_id": token["<|notimestamps|>"],
        "pad_token_id": token["<|endoftext|>"],
        "prev_sot_token_id": token["<|startofprev|>"],
        "return_timestamps": False,
        "suppress_tokens": [
            1,
            2,
            7,
            8,
            9,
            10,
            14,
            25,
            26,
            27,
            28,
            29,
            31,
            58,
            59,
            60,
            61,
            62,
            63,
            90,
            91,
            token["<|translate|>"],
            token["<|transcribe|>"],
            token["<|startoflm|>"],
            token["<|startofprev|>"],
            token["<|nocaptions|>"],
        ],
        "task_to_id": {"transcribe": token["<|transcribe|>"], "translate": token["<|translate|>"]},
    }
