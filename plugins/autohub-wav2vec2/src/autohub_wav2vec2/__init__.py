"""Wav2Vec2 for autohub: speech models (CTC recognition, audio / frame classification, x-vectors),
their feature extractor, CTC tokenizer and processor, loaded from Hub checkpoints without transformers.

Import the classes from their modules (``autohub_wav2vec2.modeling``, ``.processing``,
``.tokenization``) or reach them through the Auto classes of ``autohub_core``.
"""
