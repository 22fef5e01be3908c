"""SentencePiece tokenizer checkpoints in the shapes real repos have, built locally.

Tiny SentencePiece models are trained with the ``sentencepiece`` library the way the families'
originals were (Llama-2: BPE with byte fallback, identity normalisation, spaces kept; T5 and
XLM-R: Unigram with NFKC normalisation). Each :class:`Shape` writes one checkpoint directory
(config.json with the ``model_type``, tokenizer_config.json, and the tokenizer files):

- the ``.model`` alone (``tokenizer.model``, ``spiece.model``, ``sentencepiece.bpe.model``);
- a tokenizer.json in the Hub's Llama/Mistral shapes, made by transformers' ``LlamaConverter``:
  ``Prepend("▁")`` + ``Replace(" ", "▁")`` normaliser (``legacy``) or ``Metaspace`` pre-tokenizer;
- a tokenizer.json written by transformers' ``save_pretrained`` after loading the ``.model``;
- XLM-R's older tokenizer.json (precompiled normaliser, ``Metaspace`` without whitespace split).
"""

from __future__ import annotations

import dataclasses
import io
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sentencepiece
from tokenizers import AddedToken, Tokenizer, processors

#: Writes one checkpoint's tokenizer files into a directory, from the trained models by name.
Build = Callable[[Path, dict[str, bytes]], None]

CORPUS_WORDS = [
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "hello", "world", "Hello",
    "World", "tokenizer", "sentence", "piece", "llama", "mistral", "transformer", "attention",
    "café", "crème", "naïve", "résumé", "Über", "São", "Paulo", "東京", "日本語", "北京", "中国",
    "🙂", "emoji", "don't", "it's", "3.14", "$5", "100%", "مرحبا", "بالعالم", "שלום", "עולם",
    "new", "line", "tab", "question", "answer", "context", "unbelievable", "tokenization",
]  # fmt: skip

#: A user-defined piece of the Unigram models (SentencePiece never splits it).
USER_DEFINED_PIECE = "<sep>"
LLAMA_SPECIALS = {"unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>"}
#: tokenizer_config.json of the Hub's Llama-2 / Mistral-7B repos (minus ``legacy``).
HUB_LLAMA_CONFIG = {
    "tokenizer_class": "LlamaTokenizer",
    "add_bos_token": True,
    "add_eos_token": False,
    "clean_up_tokenization_spaces": False,
    "pad_token": None,
    "model_max_length": 1000000000000000019884624838656,
    **LLAMA_SPECIALS,
}


def corpus() -> list[str]:
    """800 lines of corpus words separated by spaces, double spaces, newlines and tabs."""
    rng = random.Random(0)
    separators = [" ", " ", " ", "  ", "\n", "\t", ", ", ". "]
    lines = []
    for _ in range(800):
        words = [rng.choice(CORPUS_WORDS) for _ in range(rng.randint(3, 12))]
        lines.append("".join(word + rng.choice(separators) for word in words).strip())
    return lines


def _train(**options: Any) -> bytes:
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()),
        model_writer=model,
        character_coverage=1.0,
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
        **options,
    )
    return model.getvalue()


def train_models() -> dict[str, bytes]:
    """The trained ``.model`` files every shape is written from, by name."""
    llama = {
        "model_type": "bpe",
        "vocab_size": 600,
        "byte_fallback": True,
        "normalization_rule_name": "identity",
        "remove_extra_whitespaces": False,
        "split_digits": True,
        "allow_whitespace_only_pieces": True,
    }
    unigram = {"model_type": "unigram", "user_defined_symbols": [USER_DEFINED_PIECE]}
    return {
        "llama": _train(**llama),
        "llama-no-dummy-prefix": _train(**llama, add_dummy_prefix=False),
        "unigram-byte-fallback": _train(
            **unigram, vocab_size=500, byte_fallback=True, normalization_rule_name="identity"
        ),
        "t5": _train(**unigram, vocab_size=250, pad_id=0, eos_id=1, unk_id=2, bos_id=-1),
        "xlm-roberta": _train(**unigram, vocab_size=250),
    }


@dataclasses.dataclass(frozen=True)
class Shape:
    """One checkpoint: its name, ``model_type``, and how its tokenizer files are written."""

    name: str
    model_type: str
    build: Build

    def make(self, root: Path, models: dict[str, bytes]) -> Path:
        directory = root / self.name
        directory.mkdir(parents=True)
        self.build(directory, models)
        (directory / "config.json").write_text(json.dumps({"model_type": self.model_type}), encoding="utf-8")
        return directory


def _write_json(path: Path, value: dict[str, Any]) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")


def _model_only(model: str, filename: str, config: dict[str, Any] | None) -> Build:
    """The ``.model`` file alone, with a tokenizer_config.json when ``config`` is given."""

    def build(directory: Path, models: dict[str, bytes]) -> None:
        (directory / filename).write_bytes(models[model])
        if config is not None:
            _write_json(directory / "tokenizer_config.json", config)

    return build


def _hub_llama_json(model_path: Path, *, legacy: bool, add_prefix_space: bool) -> Tokenizer:
    """tokenizer.json as transformers' ``LlamaConverter`` writes it, with the Hub's BOS template.

    The converter reads a slow tokenizer's ``vocab_file``, ``legacy`` and ``add_prefix_space``
    only; in transformers 5.23 its BPE branch calls the piece extractor with transformers 4's
    signature, which is adapted here.
    """
    from tokenizers.models import BPE
    from transformers.convert_slow_tokenizer import LlamaConverter, SentencePieceExtractor

    class Extractor(SentencePieceExtractor):
        def extract(self, vocab_scores: Any = None) -> tuple[dict[str, int], list[tuple[str, str]]]:
            extracted = super().extract(BPE)
            return extracted["vocab"], extracted["merges"]

    class Converter(LlamaConverter):
        SpmExtractor = Extractor

    processor = sentencepiece.SentencePieceProcessor(model_file=str(model_path))

    class SlowTokenizer:
        vocab_file = str(model_path)

        def __init__(self) -> None:
            self.legacy = legacy
            self.add_prefix_space = add_prefix_space

        def convert_ids_to_tokens(self, index: int) -> str:
            return processor.id_to_piece(index)

    tokenizer = Converter(SlowTokenizer()).converted()
    tokenizer.add_special_tokens([AddedToken("<unk>", special=True, normalized=False)])
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s>:0 $A:0", pair="<s>:0 $A:0 <s>:1 $B:1", special_tokens=[("<s>", 1)]
    )
    return tokenizer


def _hub_llama(
    config: dict[str, Any],
    *,
    legacy: bool = True,
    add_prefix_space: bool = True,
    added_tokens_decoder: bool = True,
) -> Build:
    """A Hub-era Llama/Mistral tokenizer.json (made from the ``llama`` model) and tokenizer_config.json
    (listing the special tokens in ``added_tokens_decoder`` unless, as before transformers 4.34, it does not)."""

    def build(directory: Path, models: dict[str, bytes]) -> None:
        model_path = directory.with_name(directory.name + ".model")
        model_path.write_bytes(models["llama"])
        _hub_llama_json(model_path, legacy=legacy, add_prefix_space=add_prefix_space).save(
            str(directory / "tokenizer.json")
        )
        added = {
            str(index): {
                "content": content,
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": True,
            }
            for index, content in enumerate(("<unk>", "<s>", "</s>"))
        }
        listed = {"added_tokens_decoder": added} if added_tokens_decoder else {}
        _write_json(directory / "tokenizer_config.json", {**listed, **config})

    return build


def _saved_by_transformers(source: Build, model_type: str) -> Build:
    """The ``.model`` checkpoint written by ``source``, loaded and saved again by transformers."""

    def build(directory: Path, models: dict[str, bytes]) -> None:
        import transformers

        original = directory.with_name(directory.name + "-source")
        original.mkdir()
        source(original, models)
        _write_json(original / "config.json", {"model_type": model_type})
        transformers.AutoTokenizer.from_pretrained(original).save_pretrained(directory)
        for name in ("tokenizer.model", "spiece.model", "sentencepiece.bpe.model"):
            (directory / name).unlink(missing_ok=True)

    return build


def _older_xlm_roberta_json(source: Build) -> Build:
    """XLM-R's first tokenizer.json shape: precompiled normaliser, then ``Metaspace`` alone."""

    def build(directory: Path, models: dict[str, bytes]) -> None:
        source(directory, models)
        path = directory / "tokenizer.json"
        document = json.loads(path.read_text(encoding="utf-8"))
        document["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}
        document["decoder"] = {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}
        path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")

    return build


def _llama_family_shapes() -> list[Shape]:
    legacy_values = {"": {}, "-legacy": {"legacy": True}, "-nonlegacy": {"legacy": False}}
    shapes = []
    for suffix, legacy in legacy_values.items():
        config = {**HUB_LLAMA_CONFIG, **legacy}
        shapes.append(Shape(f"llama-model{suffix}", "llama", _model_only("llama", "tokenizer.model", config)))
        shapes.append(Shape(f"llama-json-prepend{suffix}", "llama", _hub_llama(config)))
    config = {**HUB_LLAMA_CONFIG, "legacy": False}
    no_prefix = {**HUB_LLAMA_CONFIG, "add_prefix_space": False}
    fast_class = {**HUB_LLAMA_CONFIG, "tokenizer_class": "LlamaTokenizerFast", "legacy": True}
    with_eos = {**HUB_LLAMA_CONFIG, "add_eos_token": True}
    unnamed = {key: value for key, value in HUB_LLAMA_CONFIG.items() if key != "tokenizer_class"}
    shapes += [
        Shape(
            "llama-model-no-dummy-prefix",
            "llama",
            _model_only("llama-no-dummy-prefix", "tokenizer.model", config),
        ),
        Shape("llama-model-no-prefix-space", "llama", _model_only("llama", "tokenizer.model", no_prefix)),
        Shape("llama-model-no-config", "llama", _model_only("llama", "tokenizer.model", None)),
        Shape("llama-json-metaspace-first", "llama", _hub_llama(config, legacy=False)),
        Shape("llama-json-prepend-no-prefix-space", "llama", _hub_llama(no_prefix, add_prefix_space=False)),
        Shape("llama-json-prepend-fast-class", "llama", _hub_llama(fast_class)),
        Shape("llama-json-prepend-eos", "llama", _hub_llama(with_eos)),
        Shape(
            "llama-json-prepend-old-config",
            "llama",
            _hub_llama({**HUB_LLAMA_CONFIG, "legacy": True}, added_tokens_decoder=False),
        ),
        Shape("llama-json-prepend-unnamed", "llama", _hub_llama(unnamed)),
        Shape(
            "llama-json-saved-legacy",
            "llama",
            _saved_by_transformers(
                _model_only("llama", "tokenizer.model", {**HUB_LLAMA_CONFIG, "legacy": True}), "llama"
            ),
        ),
        Shape(
            "llama-json-saved-nonlegacy",
            "llama",
            _saved_by_transformers(_model_only("llama", "tokenizer.model", config), "llama"),
        ),
    ]
    mistral = {**HUB_LLAMA_CONFIG, "legacy": True}
    mistral_unnamed = {key: value for key, value in mistral.items() if key != "tokenizer_class"}
    shapes += [
        Shape("mistral-model", "mistral", _model_only("llama", "tokenizer.model", mistral)),
        Shape("mistral-model-unnamed", "mistral", _model_only("llama", "tokenizer.model", mistral_unnamed)),
        Shape(
            "mistral-model-unigram",
            "mistral",
            _model_only("unigram-byte-fallback", "tokenizer.model", mistral),
        ),
        Shape("mistral-json-prepend", "mistral", _hub_llama(mistral)),
        Shape("mistral-json-prepend-unnamed", "mistral", _hub_llama(mistral_unnamed)),
        Shape("mistral-json-metaspace-first", "mistral", _hub_llama(config, legacy=False)),
    ]
    return shapes


def _unigram_family_shapes() -> list[Shape]:
    t5 = _model_only("t5", "spiece.model", {"tokenizer_class": "T5Tokenizer", "model_max_length": 512})
    t5_few = _model_only("t5", "spiece.model", {"tokenizer_class": "T5Tokenizer", "extra_ids": 5})
    xlmr_config = {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 512}
    xlmr = _model_only("xlm-roberta", "sentencepiece.bpe.model", xlmr_config)
    xlmr_no_prefix = _model_only(
        "xlm-roberta", "sentencepiece.bpe.model", {**xlmr_config, "add_prefix_space": False}
    )
    return [
        Shape("t5-spiece", "t5", t5),
        Shape("t5-spiece-5-sentinels", "t5", t5_few),
        Shape("t5-spiece-no-config", "t5", _model_only("t5", "spiece.model", None)),
        Shape("t5-json-saved", "t5", _saved_by_transformers(t5, "t5")),
        Shape("xlm-roberta-spm", "xlm-roberta", xlmr),
        Shape("xlm-roberta-spm-no-prefix-space", "xlm-roberta", xlmr_no_prefix),
        Shape("xlm-roberta-json-saved", "xlm-roberta", _saved_by_transformers(xlmr, "xlm-roberta")),
        Shape(
            "xlm-roberta-json-older",
            "xlm-roberta",
            _older_xlm_roberta_json(_saved_by_transformers(xlmr, "xlm-roberta")),
        ),
    ]


SHAPES = _llama_family_shapes() + _unigram_family_shapes()
