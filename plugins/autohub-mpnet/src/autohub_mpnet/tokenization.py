"""MPNet's tokenizer: BERT's lower-cased WordPiece with fairseq's special tokens and RoBERTa's
``<s> A </s></s> B </s>`` template."""

from __future__ import annotations

from typing import Any, ClassVar

from tokenizers import AddedToken, Tokenizer, decoders, pre_tokenizers, processors

from autohub_core.tokenization import WordPieceTokenizer

__all__ = ["MPNetTokenizer"]


class MPNetTokenizer(WordPieceTokenizer):
    """MPNet WordPiece tokenizer; loads ``tokenizer.json`` or, without it, ``vocab.txt``.

    Options (from tokenizer_config.json or keyword arguments): ``do_lower_case``, ``strip_accents``
    (``None`` follows ``do_lower_case``), ``tokenize_chinese_chars``. As transformers 5 does, the
    options and the special tokens set the whole pipeline even over a tokenizer.json: BERT's
    normalizer and pre-tokenizer, the WordPiece decoder, and the ``<s> A </s></s> B </s>``
    template with trimmed offsets and no token type ids (the Hub's tokenizer.json files have a
    template giving the second sequence type id 1; transformers replaces it too). ``<mask>``
    swallows the space before it (``lstrip``) unless the files say otherwise.
    """

    model_input_names: ClassVar[list[str]] = ["input_ids", "attention_mask"]
    default_special_tokens: ClassVar[dict[str, str]] = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "unk_token": "[UNK]",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
    }

    def __init__(self, tokenizer_object: Tokenizer | None = None, **kwargs: Any) -> None:
        mask_token = kwargs.get("mask_token", self.default_special_tokens["mask_token"])
        if isinstance(mask_token, str):
            kwargs["mask_token"] = AddedToken(
                mask_token, lstrip=True, rstrip=False, normalized=False, special=True
            )
        super().__init__(tokenizer_object, **kwargs)

    def _configure_backend(self, backend: Tokenizer) -> None:
        """BERT's normalizer from the options (see :class:`WordPieceTokenizer`), BERT's pre-tokenizer,
        the WordPiece decoder and the ``<s> A </s></s> B </s>`` template."""
        super()._configure_backend(backend)
        backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        backend.decoder = decoders.WordPiece(prefix="##")
        cls, sep = self.cls_token, self.sep_token
        if cls is None or sep is None:
            return
        backend.post_processor = processors.RobertaProcessing(
            (sep, self.sep_token_id), (cls, self.cls_token_id), trim_offsets=True, add_prefix_space=False
        )
