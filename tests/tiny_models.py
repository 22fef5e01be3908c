"""Tiny BERT checkpoints (transformers-saved, with a WordPiece tokenizer) for the CLI, hub and docs tests."""

from __future__ import annotations

from pathlib import Path

import torch

WORDS = [
    "the", "a", "man", "is", "eating", "food", "eats", "something", "paris", "capital", "of",
    "france", "john", "smith", "lives", "in", "new", "york", "and", "works", "at", "google",
    "what", "where", "does", "who", "city", "big", "small", "dog", "cat", "runs", "fast", ".",
    ",", "?", "!", "hello", "world", "good", "bad", "movie", "great", "terrible", "is",
]  # fmt: skip
PIECES = ["##s", "##ing", "##ed", "##er", "##ly", "##o", "##n", "##a", "##e", "##i"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


def vocabulary() -> list[str]:
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    tokens = SPECIAL + list(dict.fromkeys(WORDS)) + PIECES + letters + ["##" + c for c in letters]
    return list(dict.fromkeys(tokens))


def tiny_config(**overrides: object) -> object:
    import transformers

    values = {
        "vocab_size": len(vocabulary()),
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 37,
        "max_position_embeddings": 64,
    }
    values.update(overrides)
    return transformers.BertConfig(**values)


def save_tokenizer(directory: Path) -> None:
    """Save a lower-casing WordPiece BertTokenizer (tokenizer.json + vocab.txt + configs)."""
    import transformers

    directory.mkdir(parents=True, exist_ok=True)
    vocab = {token: index for index, token in enumerate(vocabulary())}
    tokenizer = transformers.BertTokenizer(vocab=vocab, do_lower_case=True, model_max_length=64)
    tokenizer.save_pretrained(directory)


def save_tiny_bert(
    directory: Path, class_name: str = "BertModel", seed: int = 0, **overrides: object
) -> Path:
    """A random tiny transformers BERT of ``class_name`` plus its tokenizer, saved in ``directory``."""
    import transformers

    if class_name == "BertForTokenClassification":
        overrides.setdefault("id2label", dict(enumerate(LABELS)))
    config = tiny_config(**overrides)
    torch.manual_seed(seed)
    model = getattr(transformers, class_name)(config).eval()
    model.save_pretrained(directory)
    save_tokenizer(directory)
    return directory
