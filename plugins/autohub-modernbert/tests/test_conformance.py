"""The autohub conformance kit applied to the ModernBERT plugin (every head, tokenizer round trip)."""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import (
    AddedToken,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

from autohub_core.testing import ConformanceSuite

_TEXTS = [
    "hello world",
    "the quick brown fox jumps over the lazy dog",
    "accents: café naïve",
    "new\nlines and\ttabs",
]


class TestModernBertConformance(ConformanceSuite):
    plugin_name = "modernbert"
    model_type = "modernbert"
    # Layers 0 and 3 global, 1 and 2 local over a window (2 on each side) shorter than the inputs.
    config_kwargs = {
        "vocab_size": 99,
        "hidden_size": 32,
        "intermediate_size": 24,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "max_position_embeddings": 64,
        "global_attn_every_n_layers": 3,
        "local_attention": 4,
        "pad_token_id": 0,
        "bos_token_id": 1,
        "cls_token_id": 1,
        "eos_token_id": 2,
        "sep_token_id": 2,
    }
    tasks = (
        "base",
        "masked-lm",
        "sequence-classification",
        "token-classification",
        "question-answering",
        "multiple-choice",
    )

    def make_tokenizer_files(self, directory: Path) -> None:
        """A small tokenizer.json in ModernBERT's pipeline and the Hub's tokenizer_config.json keys."""
        tokenizer = Tokenizer(models.BPE())
        tokenizer.normalizer = normalizers.NFC()
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tokenizer.train_from_iterator(_TEXTS, trainer=trainer)
        specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
        tokenizer.add_special_tokens(
            [AddedToken(token, normalized=False, lstrip=token == "[MASK]") for token in specials]
        )
        cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
        tokenizer.post_processor = processors.TemplateProcessing(
            single="[CLS]:0 $A:0 [SEP]:0",
            pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
            special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
        )
        tokenizer.save(str(directory / "tokenizer.json"))
        options = {f"{name.strip('[]').lower()}_token": name for name in specials}
        (directory / "tokenizer_config.json").write_text(json.dumps({**options, "model_max_length": 8192}))
