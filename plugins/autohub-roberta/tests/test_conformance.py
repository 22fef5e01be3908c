"""The autohub conformance kit applied to the RoBERTa plugin, for both model types it provides."""

from __future__ import annotations

from pathlib import Path

import sentencepiece
from tokenizers import ByteLevelBPETokenizer

from autohub_core.testing import ConformanceSuite

_CORPUS = [
    "hello world, the quick brown fox jumps over the lazy dog",
    "new lines and tabs, accents: café naïve résumé",
    "東京 日本語 and emoji 🙂 in a multilingual corpus",
] * 20
_CONFIG = {
    "vocab_size": 99,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "max_position_embeddings": 64,
}
# The 2-rank tensor-parallel run needs sizes 2 divides (_CONFIG has odd ones).
_TENSOR_PARALLEL_OVERRIDES = {"intermediate_size": 36}


class TestRobertaConformance(ConformanceSuite):
    plugin_name = "roberta"
    model_type = "roberta"
    config_kwargs = _CONFIG
    tensor_parallel_overrides = _TENSOR_PARALLEL_OVERRIDES

    def make_tokenizer_files(self, directory: Path) -> None:
        trainer = ByteLevelBPETokenizer()
        trainer.train_from_iterator(
            _CORPUS, vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        )
        trainer.save_model(str(directory))


class TestXLMRobertaConformance(ConformanceSuite):
    plugin_name = "roberta"
    model_type = "xlm-roberta"
    config_kwargs = _CONFIG
    tensor_parallel_overrides = _TENSOR_PARALLEL_OVERRIDES

    def make_tokenizer_files(self, directory: Path) -> None:
        corpus = directory / "corpus.txt"
        corpus.write_text("\n".join(_CORPUS), encoding="utf-8")
        sentencepiece.SentencePieceTrainer.train(
            input=str(corpus),
            model_prefix=str(directory / "sentencepiece.bpe"),
            vocab_size=48,
            character_coverage=1.0,
            minloglevel=2,
        )
        corpus.unlink()
