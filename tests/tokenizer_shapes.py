"""Tokenizer checkpoints in the shapes real repos have, built locally (nothing is downloaded).

A WordPiece vocabulary and a byte-level BPE are trained with ``tokenizers`` on a small corpus
that covers the hard test texts (accents, CJK, emoji, RTL). Each :class:`Shape` writes one
checkpoint directory: legacy files only (``vocab.txt``, ``vocab.json`` + ``merges.txt``), a
``tokenizer.json`` produced by transformers' slow→fast conversion then ``save_pretrained``, or a
``tokenizer.json`` saved by the ``tokenizers`` library itself; with or without
``tokenizer_config.json`` flags, and optionally with ``from_pretrained`` keyword arguments.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tokenizers import (
    ByteLevelBPETokenizer,
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

CORPUS_WORDS = [
    "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "hello", "world", "Hello",
    "World", "HELLO", "café", "crème", "naïve", "résumé", "Über", "São", "Paulo", "東京",
    "日本語", "北京是中国的首都", "🙂", "🚀", "👩‍👩‍👧", "emoji", "tokenization", "unbelievable",
    "don't", "it's", "3.14", "$5", "100%", "مرحبا", "بالعالم", "שלום", "עולם", "cafe\u0301",
    "e\u0301t\u00e9", "new", "line", "tab", "mask", "a", "b", "question", "answer", "context",
]  # fmt: skip

LEGACY_FILES = (
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "tokenizer.model",
    "sentencepiece.bpe.model",
)
WORDPIECE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
BYTE_LEVEL_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", "<|endoftext|>"]

#: Qwen2's pre-tokenizer regex (transformers' ``PRETOKENIZE_REGEX``).
QWEN2_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)


def corpus() -> list[str]:
    """600 lines of random corpus words, with spaces, newlines and tabs between them."""
    rng = random.Random(0)
    separators = [" ", " ", " ", "  ", "\n", "\t", ", ", ". "]
    lines = []
    for _ in range(600):
        words = [rng.choice(CORPUS_WORDS) for _ in range(rng.randint(3, 12))]
        lines.append("".join(word + rng.choice(separators) for word in words).strip())
    return lines


def wordpiece_tokenizer() -> Tokenizer:
    """A ~500-token cased WordPiece (lower-case forms included), BERT's normalizer options off."""
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    lines = corpus()
    trainer = trainers.WordPieceTrainer(vocab_size=500, special_tokens=WORDPIECE_SPECIALS)
    tokenizer.train_from_iterator(lines + [line.lower() for line in lines], trainer=trainer)
    return tokenizer


def sentencepiece_models(directory: Path) -> dict[str, Path]:
    """A Unigram and a byte-fallback BPE SentencePiece model trained on the corpus."""
    import sentencepiece

    corpus_file = directory / "corpus.txt"
    corpus_file.write_text("\n".join(corpus()), encoding="utf-8")
    models_written = {}
    for kind, size in (("unigram", 120), ("bpe", 380)):
        sentencepiece.SentencePieceTrainer.train(
            input=str(corpus_file),
            model_prefix=str(directory / kind),
            vocab_size=size,
            hard_vocab_limit=False,
            model_type=kind,
            character_coverage=1.0,
            byte_fallback=kind == "bpe",
            minloglevel=2,
        )
        models_written[kind] = directory / f"{kind}.model"
    return models_written


def byte_level_tokenizer() -> ByteLevelBPETokenizer:
    """A ~600-token byte-level BPE with fairseq's and GPT-2's special tokens first."""
    tokenizer = ByteLevelBPETokenizer()
    tokenizer.train_from_iterator(
        corpus(), vocab_size=600, min_frequency=1, special_tokens=BYTE_LEVEL_SPECIALS
    )
    return tokenizer


@dataclasses.dataclass(frozen=True)
class Shape:
    """One checkpoint: its family, how its files are made, and the ``from_pretrained`` kwargs."""

    name: str
    family: str
    build: Callable[[Path, dict[str, Any]], None]
    load_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)

    def make(self, root: Path, sources: dict[str, Any]) -> Path:
        directory = root / self.name
        directory.mkdir(parents=True, exist_ok=True)
        self.build(directory, sources)
        return directory


def _write_json(path: Path, value: dict[str, Any]) -> None:
    path.write_text(json.dumps(value), encoding="utf-8")


def _write_vocab_txt(directory: Path, sources: dict[str, Any]) -> None:
    vocab = sorted(sources["wordpiece"].get_vocab().items(), key=lambda item: item[1])
    (directory / "vocab.txt").write_text("".join(f"{token}\n" for token, _ in vocab), encoding="utf-8")


def _write_vocab_merges(directory: Path, sources: dict[str, Any]) -> None:
    sources["byte_level"].save_model(str(directory))


def _legacy(family: str, writer: Callable[[Path, dict[str, Any]], None], config: dict[str, Any] | None):
    """Legacy files + config.json's ``model_type``, and a tokenizer_config.json when ``config`` is given."""

    def build(directory: Path, sources: dict[str, Any]) -> None:
        writer(directory, sources)
        _write_json(directory / "config.json", {"model_type": family})
        if config is not None:
            _write_json(directory / "tokenizer_config.json", {"model_max_length": 512, **config})

    return build


def _lstrip_mask_map(directory: Path, sources: dict[str, Any]) -> None:
    """RoBERTa's files as transformers 4's slow tokenizer saved them: special_tokens_map.json gives
    ``<mask>`` with ``lstrip``."""
    _legacy("roberta", _write_vocab_merges, {"tokenizer_class": "RobertaTokenizer"})(directory, sources)
    mask = {"content": "<mask>", "lstrip": True, "normalized": False, "rstrip": False, "single_word": False}
    _write_json(directory / "special_tokens_map.json", {"mask_token": mask})


def _converted(class_name: str, family: str, legacy_build: Callable[[Path, dict[str, Any]], None]):
    """transformers' slow→fast conversion of the legacy files, then ``save_pretrained`` (no legacy files left)."""

    def build(directory: Path, sources: dict[str, Any]) -> None:
        import transformers

        source = directory.with_name(directory.name + "-source")
        source.mkdir(parents=True, exist_ok=True)
        legacy_build(source, sources)
        getattr(transformers, class_name).from_pretrained(source).save_pretrained(directory)
        for name in LEGACY_FILES:
            (directory / name).unlink(missing_ok=True)
        _write_json(directory / "config.json", {"model_type": family})

    return build


def _library_wordpiece(directory: Path, sources: dict[str, Any]) -> None:
    """tokenizer.json as ``tokenizers``' BertWordPieceTokenizer writes it, with config.json only."""
    tokenizer = Tokenizer.from_str(sources["wordpiece"].to_str())
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    vocab = tokenizer.get_vocab()
    tokenizer.post_processor = processors.BertProcessing(("[SEP]", vocab["[SEP]"]), ("[CLS]", vocab["[CLS]"]))
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.add_special_tokens(WORDPIECE_SPECIALS)
    tokenizer.save(str(directory / "tokenizer.json"))
    _write_json(directory / "config.json", {"model_type": "bert"})


def _library_byte_level(family: str, config: dict[str, Any]) -> Callable[[Path, dict[str, Any]], None]:
    """tokenizer.json saved by ``tokenizers`` in the family's own pipeline (RoBERTa's post-processor,
    Qwen2's regex pre-tokenizer), with a tokenizer_config.json naming the class."""

    def build(directory: Path, sources: dict[str, Any]) -> None:
        tokenizer = Tokenizer.from_str(sources["byte_level"]._tokenizer.to_str())
        vocab = tokenizer.get_vocab()
        if family == "roberta":
            tokenizer.post_processor = processors.RobertaProcessing(
                ("</s>", vocab["</s>"]), ("<s>", vocab["<s>"])
            )
        elif family == "qwen2":
            tokenizer.normalizer = normalizers.NFC()
            tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
                [
                    pre_tokenizers.Split(Regex(QWEN2_REGEX), behavior="isolated"),
                    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
                ]
            )
            tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
        tokenizer.add_special_tokens(BYTE_LEVEL_SPECIALS)
        tokenizer.save(str(directory / "tokenizer.json"))
        _write_json(directory / "config.json", {"model_type": family})
        _write_json(directory / "tokenizer_config.json", {"model_max_length": 512, **config})

    return build


def _wordpiece_shapes() -> list[Shape]:
    shapes = []
    for family, class_name in (("bert", "BertTokenizer"), ("distilbert", "DistilBertTokenizer")):
        named = {"tokenizer_class": class_name}
        configs = {
            "": None,
            "-class": named,
            "-cased": {**named, "do_lower_case": False},
            "-nochinese-accents": {**named, "tokenize_chinese_chars": False, "strip_accents": False},
        }
        for suffix, config in configs.items():
            legacy = _legacy(family, _write_vocab_txt, config)
            shapes.append(Shape(f"{family}-vocab{suffix}", family, legacy))
            if config is not None:
                shapes.append(Shape(f"{family}-json{suffix}", family, _converted(class_name, family, legacy)))
    shapes.append(Shape("bert-library-json", "bert", _library_wordpiece))
    return shapes


def _byte_level_shapes() -> list[Shape]:
    classes = {"gpt2": "GPT2Tokenizer", "roberta": "RobertaTokenizer", "qwen2": "Qwen2Tokenizer"}
    shapes = []
    for family, class_name in classes.items():
        named = {"tokenizer_class": class_name}
        configs = {"-class": named, "-prefix": {**named, "add_prefix_space": True}}
        if family == "roberta":
            configs["-untrimmed"] = {**named, "trim_offsets": False}
            configs["-prefix-untrimmed"] = {**named, "add_prefix_space": True, "trim_offsets": False}
        shapes.append(Shape(f"{family}-merges", family, _legacy(family, _write_vocab_merges, None)))
        shapes.append(
            Shape(
                f"{family}-merges-prefix-kwarg",
                family,
                _legacy(family, _write_vocab_merges, named),
                {"add_prefix_space": True},
            )
        )
        for suffix, config in configs.items():
            legacy = _legacy(family, _write_vocab_merges, config)
            shapes.append(Shape(f"{family}-merges{suffix}", family, legacy))
            shapes.append(Shape(f"{family}-json{suffix}", family, _converted(class_name, family, legacy)))
        shapes.append(
            Shape(
                f"{family}-json-prefix-kwarg",
                family,
                _converted(class_name, family, _legacy(family, _write_vocab_merges, named)),
                {"add_prefix_space": True},
            )
        )
        if family == "roberta":
            shapes.append(Shape("roberta-merges-lstrip-mask", family, _lstrip_mask_map))
            shapes.append(
                Shape("roberta-json-lstrip-mask", family, _converted(class_name, family, _lstrip_mask_map))
            )
        shapes.append(Shape(f"{family}-library-json", family, _library_byte_level(family, named)))
        shapes.append(
            Shape(
                f"{family}-library-json-prefix",
                family,
                _library_byte_level(family, {**named, "add_prefix_space": True}),
            )
        )
    return shapes


def _sentencepiece(family: str, filename: str, kind: str, config: dict[str, Any] | None):
    def build(directory: Path, sources: dict[str, Any]) -> None:
        (directory / filename).write_bytes(sources["sentencepiece"][kind].read_bytes())
        _write_json(directory / "config.json", {"model_type": family})
        if config is not None:
            _write_json(directory / "tokenizer_config.json", config)

    return build


def _sentencepiece_shapes() -> list[Shape]:
    families = {
        "xlm-roberta": ("XLMRobertaTokenizer", "sentencepiece.bpe.model", "unigram"),
        "t5": ("T5Tokenizer", "spiece.model", "unigram"),
        "llama": ("LlamaTokenizer", "tokenizer.model", "bpe"),
        "mistral": ("LlamaTokenizer", "tokenizer.model", "bpe"),
    }
    shapes = []
    for family, (class_name, filename, kind) in families.items():
        legacy = _sentencepiece(family, filename, kind, {"tokenizer_class": class_name})
        shapes.append(Shape(f"{family}-model", family, _sentencepiece(family, filename, kind, None)))
        shapes.append(Shape(f"{family}-model-class", family, legacy))
        shapes.append(Shape(f"{family}-json-class", family, _converted(class_name, family, legacy)))
    return shapes


WORDPIECE_SHAPES = _wordpiece_shapes()
BYTE_LEVEL_SHAPES = _byte_level_shapes()
#: Only the returned keys of these are compared here (their parity tests live with their plugins).
SENTENCEPIECE_SHAPES = _sentencepiece_shapes()
ALL_SHAPES = WORDPIECE_SHAPES + BYTE_LEVEL_SHAPES + SENTENCEPIECE_SHAPES


def shape_named(name: str) -> Shape:
    """The shape called ``name``."""
    return next(shape for shape in ALL_SHAPES if shape.name == name)


def checkpoint_maker(root: Path) -> Callable[[Shape], Path]:
    """A function writing a shape's checkpoint under ``root`` (once), from vocabularies trained once."""
    trained = sources(root)
    built: dict[str, Path] = {}

    def make(shape: Shape) -> Path:
        if shape.name not in built:
            built[shape.name] = shape.make(root, trained)
        return built[shape.name]

    return make


def sources(directory: Path) -> dict[str, Any]:
    """The trained vocabularies every shape is written from (SentencePiece models go to ``directory``)."""
    return {
        "wordpiece": wordpiece_tokenizer(),
        "byte_level": byte_level_tokenizer(),
        "sentencepiece": sentencepiece_models(directory),
    }
