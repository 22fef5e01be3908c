"""The autohub conformance kit applied to the DeBERTa-v2 plugin (every head, a DeBERTa-v3-shaped config,
tokenizer round trip, tensor-parallel and device-map plans)."""

from __future__ import annotations

import io
from pathlib import Path

import sentencepiece

from autohub_core.testing import ConformanceSuite

_WORDS = ["hello", "world", "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "café", "naïve"]


class TestDebertaV2Conformance(ConformanceSuite):
    plugin_name = "deberta-v2"
    model_type = "deberta-v2"
    config_kwargs = {
        "vocab_size": 99,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 37,
        "max_position_embeddings": 64,
        "relative_attention": True,
        "position_buckets": 4,
        "norm_rel_ebd": "layer_norm",
        "share_att_key": True,
        "pos_att_type": ["p2c", "c2p"],
        "position_biased_input": False,
        "conv_kernel_size": 3,
    }
    # The 2-rank tensor-parallel run needs sizes 2 divides (config_kwargs has odd ones), and the
    # separate position projections of configs without share_att_key.
    tensor_parallel_overrides = {"intermediate_size": 36, "share_att_key": False}
    tasks = (
        "base",
        "text-encoding",
        "masked-lm",
        "sequence-classification",
        "token-classification",
        "question-answering",
        "multiple-choice",
    )

    def make_tokenizer_files(self, directory: Path) -> None:
        model = io.BytesIO()
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(" ".join(_WORDS[i:] + _WORDS[:i]) for i in range(len(_WORDS))),
            model_writer=model,
            model_type="unigram",
            vocab_size=60,
            hard_vocab_limit=False,
            character_coverage=1.0,
            **{"pad_id": 0, "bos_id": 1, "eos_id": 2, "unk_id": 3},
            **{"pad_piece": "[PAD]", "bos_piece": "[CLS]", "eos_piece": "[SEP]", "unk_piece": "[UNK]"},
            minloglevel=2,
        )
        (directory / "spm.model").write_bytes(model.getvalue())
