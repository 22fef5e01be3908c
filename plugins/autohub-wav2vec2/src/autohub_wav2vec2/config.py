"""Wav2Vec2 configuration: the keys of a wav2vec2 config.json, with transformers' defaults.

Every key transformers' ``Wav2Vec2Config`` reads is accepted, checked and implemented. The
quantizer and contrastive-loss keys (``num_codevectors_per_group``, ``num_codevector_groups``,
``codevector_dim``, ``proj_codevector_dim``, ``contrastive_logits_temperature``,
``diversity_loss_weight``, ``feat_quantizer_dropout``) are read by ``Wav2Vec2ForPreTraining`` only;
``num_negatives`` is what callers pass to ``sample_negative_indices``, as in transformers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from autohub_core.configuration import (
    Constraint,
    PretrainedConfig,
    Rule,
    boolean,
    list_of,
    multiple_of,
    non_negative_int,
    number,
    one_of,
    optional,
    positive_int,
    probability,
    string,
    valid_index,
)

#: The reductions ``torch.nn.functional.ctc_loss`` takes.
CTC_REDUCTIONS = ("sum", "mean", "none")


def _same_length(*keys: str) -> Constraint:
    return Constraint(
        keys,
        " == ".join(f"len({key!r})" for key in keys) + " (one entry per convolutional layer)",
        lambda *values: (
            not all(isinstance(value, list) for value in values) or len({len(value) for value in values}) == 1
        ),
    )


def _ints(values: Sequence[int]) -> list[int]:
    return list(values) if isinstance(values, (list, tuple)) else values  # type: ignore[return-value]


class Wav2Vec2Config(PretrainedConfig):
    """Configuration of a Wav2Vec2 model (``model_type = "wav2vec2"``).

    ``feat_extract_norm="group"`` with ``do_stable_layer_norm=False`` is the wav2vec2-base layout
    (a GroupNorm after the first convolution, post-norm transformer); ``"layer"`` with
    ``do_stable_layer_norm=True`` is the large-lv60 layout (LayerNorm after every convolution,
    pre-norm transformer). SpecAugment (``apply_spec_augment``, ``mask_time_*``,
    ``mask_feature_*``) only acts while training.
    """

    model_type = "wav2vec2"
    config_rules: ClassVar[dict[str, Rule]] = {
        "vocab_size": optional(positive_int()),
        "hidden_size": positive_int(),
        "num_hidden_layers": positive_int(),
        "num_attention_heads": positive_int(),
        "intermediate_size": positive_int(),
        "hidden_act": string(),
        "hidden_dropout": probability(),
        "activation_dropout": probability(),
        "attention_dropout": probability(),
        "feat_proj_dropout": probability(),
        "feat_quantizer_dropout": probability(),
        "final_dropout": probability(),
        "layerdrop": probability(),
        "initializer_range": number(0),
        "layer_norm_eps": number(0, exclusive_minimum=True),
        "feat_extract_norm": one_of("group", "layer"),
        "feat_extract_activation": string(),
        "conv_dim": list_of(positive_int()),
        "conv_stride": list_of(positive_int()),
        "conv_kernel": list_of(positive_int()),
        "conv_bias": boolean(),
        "num_conv_pos_embeddings": positive_int(),
        "num_conv_pos_embedding_groups": positive_int(),
        "do_stable_layer_norm": boolean(),
        "apply_spec_augment": boolean(),
        "mask_time_prob": probability(),
        "mask_time_length": positive_int(),
        "mask_time_min_masks": non_negative_int(),
        "mask_feature_prob": probability(),
        "mask_feature_length": positive_int(),
        "mask_feature_min_masks": non_negative_int(),
        "num_codevectors_per_group": positive_int(),
        "num_codevector_groups": positive_int(),
        "contrastive_logits_temperature": number(0, exclusive_minimum=True),
        "num_negatives": positive_int(),
        "codevector_dim": positive_int(),
        "proj_codevector_dim": positive_int(),
        "diversity_loss_weight": number(),
        "ctc_loss_reduction": one_of(*CTC_REDUCTIONS),
        "ctc_zero_infinity": boolean(),
        "use_weighted_layer_sum": boolean(),
        "classifier_proj_size": positive_int(),
        "tdnn_dim": list_of(positive_int()),
        "tdnn_kernel": list_of(positive_int()),
        "tdnn_dilation": list_of(positive_int()),
        "xvector_output_dim": positive_int(),
        "add_adapter": boolean(),
        "adapter_kernel_size": positive_int(),
        "adapter_stride": positive_int(),
        "num_adapter_layers": non_negative_int(),
        "output_hidden_size": optional(positive_int()),
        "adapter_attn_dim": optional(positive_int()),
        "num_feat_extract_layers": positive_int(),
    }
    config_constraints = (
        multiple_of("hidden_size", "num_attention_heads"),
        multiple_of("hidden_size", "num_conv_pos_embedding_groups"),
        _same_length("conv_dim", "conv_stride", "conv_kernel"),
        _same_length("tdnn_dim", "tdnn_kernel", "tdnn_dilation"),
        valid_index("pad_token_id", "vocab_size"),
    )

    def __init__(
        self,
        vocab_size: int | None = 32,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        hidden_act: str = "gelu",
        hidden_dropout: float = 0.1,
        activation_dropout: float = 0.1,
        attention_dropout: float = 0.1,
        feat_proj_dropout: float = 0.0,
        feat_quantizer_dropout: float = 0.0,
        final_dropout: float = 0.1,
        layerdrop: float = 0.1,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-5,
        feat_extract_norm: str = "group",
        feat_extract_activation: str = "gelu",
        conv_dim: Sequence[int] = (512, 512, 512, 512, 512, 512, 512),
        conv_stride: Sequence[int] = (5, 2, 2, 2, 2, 2, 2),
        conv_kernel: Sequence[int] = (10, 3, 3, 3, 3, 2, 2),
        conv_bias: bool = False,
        num_conv_pos_embeddings: int = 128,
        num_conv_pos_embedding_groups: int = 16,
        do_stable_layer_norm: bool = False,
        apply_spec_augment: bool = True,
        mask_time_prob: float = 0.05,
        mask_time_length: int = 10,
        mask_time_min_masks: int = 2,
        mask_feature_prob: float = 0.0,
        mask_feature_length: int = 10,
        mask_feature_min_masks: int = 0,
        num_codevectors_per_group: int = 320,
        num_codevector_groups: int = 2,
        contrastive_logits_temperature: float = 0.1,
        num_negatives: int = 100,
        codevector_dim: int = 256,
        proj_codevector_dim: int = 256,
        diversity_loss_weight: float = 0.1,
        ctc_loss_reduction: str = "sum",
        ctc_zero_infinity: bool = False,
        use_weighted_layer_sum: bool = False,
        classifier_proj_size: int = 256,
        tdnn_dim: Sequence[int] = (512, 512, 512, 512, 1500),
        tdnn_kernel: Sequence[int] = (5, 3, 3, 1, 1),
        tdnn_dilation: Sequence[int] = (1, 2, 3, 1, 1),
        xvector_output_dim: int = 512,
        pad_token_id: int | None = 0,
        bos_token_id: int | None = 1,
        eos_token_id: int | None = 2,
        add_adapter: bool = False,
        adapter_kernel_size: int = 3,
        adapter_stride: int = 2,
        num_adapter_layers: int = 3,
        output_hidden_size: int | None = None,
        adapter_attn_dim: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("num_feat_extract_layers", None)  # derived from conv_dim, as transformers does
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout = hidden_dropout
        self.activation_dropout = activation_dropout
        self.attention_dropout = attention_dropout
        self.feat_proj_dropout = feat_proj_dropout
        self.feat_quantizer_dropout = feat_quantizer_dropout
        self.final_dropout = final_dropout
        self.layerdrop = layerdrop
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.feat_extract_norm = feat_extract_norm
        self.feat_extract_activation = feat_extract_activation
        self.conv_dim = _ints(conv_dim)
        self.conv_stride = _ints(conv_stride)
        self.conv_kernel = _ints(conv_kernel)
        self.conv_bias = conv_bias
        self.num_conv_pos_embeddings = num_conv_pos_embeddings
        self.num_conv_pos_embedding_groups = num_conv_pos_embedding_groups
        self.do_stable_layer_norm = do_stable_layer_norm
        self.apply_spec_augment = apply_spec_augment
        self.mask_time_prob = mask_time_prob
        self.mask_time_length = mask_time_length
        self.mask_time_min_masks = mask_time_min_masks
        self.mask_feature_prob = mask_feature_prob
        self.mask_feature_length = mask_feature_length
        self.mask_feature_min_masks = mask_feature_min_masks
        self.num_codevectors_per_group = num_codevectors_per_group
        self.num_codevector_groups = num_codevector_groups
        self.contrastive_logits_temperature = contrastive_logits_temperature
        self.num_negatives = num_negatives
        self.codevector_dim = codevector_dim
        self.proj_codevector_dim = proj_codevector_dim
        self.diversity_loss_weight = diversity_loss_weight
        self.ctc_loss_reduction = ctc_loss_reduction
        self.ctc_zero_infinity = ctc_zero_infinity
        self.use_weighted_layer_sum = use_weighted_layer_sum
        self.classifier_proj_size = classifier_proj_size
        self.tdnn_dim = _ints(tdnn_dim)
        self.tdnn_kernel = _ints(tdnn_kernel)
        self.tdnn_dilation = _ints(tdnn_dilation)
        self.xvector_output_dim = xvector_output_dim
        self.add_adapter = add_adapter
        self.adapter_kernel_size = adapter_kernel_size
        self.adapter_stride = adapter_stride
        self.num_adapter_layers = num_adapter_layers
        self.output_hidden_size = output_hidden_size or hidden_size
        self.adapter_attn_dim = adapter_attn_dim
        self.num_feat_extract_layers = len(self.conv_dim) if isinstance(self.conv_dim, list) else 0
        super().__init__(
            pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs
        )

    @property
    def inputs_to_logits_ratio(self) -> int:
        """Audio samples per output frame: the product of ``conv_stride``."""
        return math.prod(self.conv_stride)
