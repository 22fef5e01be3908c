"""ModernBERT: token embeddings, a pre-norm encoder alternating global and sliding-window attention
with rotary position embeddings and GeGLU feed-forward blocks, and the task heads.

Attribute names follow the checkpoint keys of transformers' ModernBERT (``model.layers.0.attn.Wqkv.
weight`` ...), so Hub checkpoints load without renaming. Layer ``i`` attends globally or over a
window of ``local_attention // 2`` positions on each side, as ``config.layer_types[i]`` says; each
layer type has its own rotary base (``config.rope_parameters``).

Two paths run the encoder; both give the outputs of transformers at every real token:

- padded (the default): the (batch, length) tensors go through every layer, padding is masked
  in attention (``"sdpa"``, ``"eager"`` or ``"flex_attention"``);
- unpadded (``unpad_inputs=True``, and always with ``attn_implementation="flash_attention_2"``, as
  the original ModernBERT): the padding tokens are removed after the embeddings, the real tokens of
  the batch are packed into one sequence that the layers process (no work on padding), and
  attention stays within each text: flash_attn's variable-length kernel with ``cu_seqlens``, or,
  for the other implementations, one attention over the packed tokens with a block-diagonal
  (+ window) mask. The outputs are put back in (batch, length) form with zeros at the padding.

Training follows transformers: ``ModernBertEncoderLayer`` is recomputed under gradient checkpointing,
and the masked-LM and question-answering heads divide their summed loss by ``num_items_in_batch``
when it is given (transformers' ``loss_function``); the other heads average their loss and ignore it.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from autohub_core.errors import UnsupportedConfigError
from autohub_core.layers import (
    attention,
    check_model_inputs,
    get_activation,
    masked_lm_loss,
    multiple_choice_loss,
    question_answering_loss,
    sequence_classification_loss,
    token_classification_loss,
)
from autohub_core.modeling import GradientCheckpointingLayer, PreTrainedModel
from autohub_core.outputs import (
    BaseModelOutput,
    MaskedLMOutput,
    MultipleChoiceModelOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from autohub_core.rotary import SUPPORTED_ROPE_TYPES, RotaryEmbedding, apply_rotary
from autohub_modernbert.config import LAYER_TYPES, ModernBertConfig

__all__ = [
    "ModernBertForMaskedLM",
    "ModernBertForMultipleChoice",
    "ModernBertForQuestionAnswering",
    "ModernBertForSequenceClassification",
    "ModernBertForTokenClassification",
    "ModernBertModel",
    "ModernBertPreTrainedModel",
]

_DISTRIBUTION = "autohub-modernbert"


def _check_supported(config: ModernBertConfig) -> None:
    """What ModernBertConfig's value rules (checked when the model is built) do not say."""
    for layer_type in LAYER_TYPES:
        rope = config.rope_parameters[layer_type]
        if rope["rope_type"] not in SUPPORTED_ROPE_TYPES:
            raise UnsupportedConfigError(
                f"config key 'rope_parameters' ({layer_type}: rope_type {rope['rope_type']!r}) is not "
                f"supported by {_DISTRIBUTION}; supported rope types: {SUPPORTED_ROPE_TYPES}"
            )
        if rope.get("partial_rotary_factor", 1.0) != 1.0:
            raise UnsupportedConfigError(
                f"config key 'rope_parameters' ({layer_type}: partial_rotary_factor != 1.0) is not "
                f"supported by {_DISTRIBUTION} (it rotates all dims)"
            )
    get_activation(config.hidden_activation, "hidden_activation")
    get_activation(config.classifier_activation, "classifier_activation")


class _Packed(NamedTuple):
    """The real tokens of a padded batch, packed into one sequence (the unpadded path)."""

    indices: torch.Tensor
    """Flat (batch * length) indices of the real tokens, in order."""
    cu_seqlens: torch.Tensor
    """int32 offsets of each text in the packed sequence (batch + 1 values), flash_attn's format."""
    max_seqlen: int
    """The longest text."""
    sequence: torch.Tensor
    """Which text each packed token belongs to."""
    positions: torch.Tensor
    """Each packed token's position id."""

    @classmethod
    def of(cls, attention_mask: torch.Tensor, position_ids: torch.Tensor) -> _Packed:
        real = attention_mask.bool()
        lengths = real.sum(dim=-1, dtype=torch.int32)
        indices = real.flatten().nonzero().flatten()
        batch, length = real.shape
        sequence = torch.arange(batch, device=real.device).repeat_interleave(length)[indices]
        return cls(
            indices=indices,
            cu_seqlens=F.pad(torch.cumsum(lengths, dim=0, dtype=torch.int32), (1, 0)),
            max_seqlen=int(lengths.max()),
            sequence=sequence,
            positions=position_ids.expand(batch, length).flatten()[indices],
        )

    def pack(self, states: torch.Tensor) -> torch.Tensor:
        """(batch, length, ...) -> (1, tokens, ...)."""
        return states.flatten(0, 1)[self.indices].unsqueeze(0)

    def unpack(self, states: torch.Tensor, batch: int, length: int) -> torch.Tensor:
        """(1, tokens, ...) -> (batch, length, ...), zeros at the padding."""
        output = states.new_zeros(batch * length, *states.shape[2:])
        output[self.indices] = states[0]
        return output.view(batch, length, *states.shape[2:])

    def mask(self, window: int | None) -> torch.Tensor:
        """(1, 1, tokens, tokens) booleans: same text (and at most ``window`` positions apart)."""
        allowed = self.sequence[:, None] == self.sequence[None, :]
        if window is not None:
            allowed = allowed & ((self.positions[:, None] - self.positions[None, :]).abs() <= window)
        return allowed[None, None]


class ModernBertEmbeddings(nn.Module):
    """Token embeddings, LayerNorm and dropout (positions come from the rotary embeddings)."""

    def __init__(self, config: ModernBertConfig) -> None:
        super().__init__()
        self.tok_embeddings = nn.Embedding(
            config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id
        )
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.norm_eps, bias=config.norm_bias)
        self.drop = nn.Dropout(config.embedding_dropout)

    def forward(self, input_ids: torch.Tensor | None, inputs_embeds: torch.Tensor | None) -> torch.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.tok_embeddings(input_ids)
        return self.drop(self.norm(inputs_embeds))


class ModernBertMLP(nn.Module):
    """GeGLU: ``Wi`` projects to the input and the gate, ``Wo(drop(act(input) * gate))``."""

    def __init__(self, config: ModernBertConfig) -> None:
        super().__init__()
        self.Wi = nn.Linear(config.hidden_size, config.intermediate_size * 2, bias=config.mlp_bias)
        self.act = get_activation(config.hidden_activation, "hidden_activation")
        self.drop = nn.Dropout(config.mlp_dropout)
        self.Wo = nn.Linear(config.intermediate_size, config.hidden_size, bias=config.mlp_bias)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        # Read as [input | gate] halves, so a tensor-parallel rank's [input_local | gate_local] works too.
        input, gate = self.Wi(hidden_states).chunk(2, dim=-1)
        return self.Wo(self.drop(self.act(input) * gate))


class ModernBertAttention(nn.Module):
    """Bidirectional self-attention with a fused ``Wqkv`` projection and rotary embeddings; a
    ``sliding_attention`` layer sees the tokens at most ``local_attention // 2`` positions away.

    Head counts are read from the tensors (``-1``), so the projections may be sharded by heads
    under tensor parallelism.
    """

    def __init__(self, config: ModernBertConfig, layer_idx: int) -> None:
        super().__init__()
        self.config = config
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.attention_dropout = config.attention_dropout
        self.Wqkv = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=config.attention_bias)
        self.window = config.sliding_window if config.layer_types[layer_idx] == "sliding_attention" else None
        self.Wo = nn.Linear(config.hidden_size, config.hidden_size, bias=config.attention_bias)
        self.out_drop = (
            nn.Dropout(config.attention_dropout) if config.attention_dropout > 0.0 else nn.Identity()
        )

    def forward(
        self,
        hidden_states: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor | None,
        packed: _Packed | None,
        output_attentions: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``mask``: boolean, broadcast to (batch, heads, query, key); ``packed``: the batch is one
        packed sequence (flash_attn then attends within each text). Returns the output and, with
        ``output_attentions``, the weights."""
        batch_size, length, _ = hidden_states.shape
        qkv = self.Wqkv(hidden_states).view(batch_size, length, 3, -1, self.head_dim)
        query, key, value = qkv.transpose(1, 3).unbind(dim=2)  # each (batch, heads, length, head_dim)
        dtype = query.dtype
        query, key = apply_rotary(query.float(), key.float(), cos, sin)  # in float32, as transformers
        query, key = query.to(dtype), key.to(dtype)
        dropout = self.attention_dropout if self.training else 0.0
        implementation = self.config._attn_implementation
        weights = None
        if packed is not None and implementation == "flash_attention_2":
            context = self._flash_varlen(query, key, value, packed, dropout).transpose(1, 2)
        else:
            context, weights = attention(
                query,
                key,
                value,
                mask,
                dropout=dropout,
                scale=self.head_dim**-0.5,
                output_attentions=output_attentions,
                implementation=implementation,
            )
            context = context.transpose(1, 2)
        context = context.reshape(batch_size, length, -1)
        return self.out_drop(self.Wo(context)), weights

    def _flash_varlen(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, packed: _Packed, dropout: float
    ) -> torch.Tensor:
        """flash_attn's variable-length kernel over the packed texts: (1, heads, tokens, head_dim)."""
        from flash_attn import flash_attn_varlen_func

        q, k, v = (states[0].transpose(0, 1) for states in (query, key, value))  # (tokens, heads, dim)
        output = flash_attn_varlen_func(
            q,
            k,
            v,
            packed.cu_seqlens,
            packed.cu_seqlens,
            packed.max_seqlen,
            packed.max_seqlen,
            dropout_p=dropout,
            softmax_scale=self.head_dim**-0.5,
            window_size=(self.window, self.window) if self.window is not None else (-1, -1),
            deterministic=self.config.deterministic_flash_attn,
        )
        return output.transpose(0, 1).unsqueeze(0)


class ModernBertEncoderLayer(GradientCheckpointingLayer):
    """Pre-norm attention then pre-norm GeGLU MLP, each added to the residual stream (the first
    layer's ``attn_norm`` is the identity: the embeddings are already normalised); recomputed in the
    backward pass under gradient checkpointing."""

    def __init__(self, config: ModernBertConfig, layer_idx: int) -> None:
        super().__init__()
        if layer_idx == 0:
            self.attn_norm: nn.Module = nn.Identity()
        else:
            self.attn_norm = nn.LayerNorm(config.hidden_size, eps=config.norm_eps, bias=config.norm_bias)
        self.attn = ModernBertAttention(config, layer_idx)
        self.mlp_norm = nn.LayerNorm(config.hidden_size, eps=config.norm_eps, bias=config.norm_bias)
        self.mlp = ModernBertMLP(config)
        self.attention_type = config.layer_types[layer_idx]

    def forward(
        self,
        hidden_states: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor | None,
        packed: _Packed | None,
        output_attentions: bool,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.attn(
            self.attn_norm(hidden_states), cos, sin, mask, packed, output_attentions
        )
        hidden_states = hidden_states + attended
        return hidden_states + self.mlp(self.mlp_norm(hidden_states)), weights


class ModernBertPredictionHead(nn.Module):
    """Dense, ``classifier_activation``, LayerNorm: the transform before every head's output layer."""

    def __init__(self, config: ModernBertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size, bias=config.classifier_bias)
        self.act = get_activation(config.classifier_activation, "classifier_activation")
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.norm_eps, bias=config.norm_bias)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.norm(self.act(self.dense(hidden_states)))


class ModernBertPreTrainedModel(PreTrainedModel):
    """Shared settings of the ModernBERT classes: weight initialisation, base model prefix, the
    tensor-parallel plan."""

    config_class = ModernBertConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules: ClassVar[list[str]] = ["ModernBertEmbeddings", "ModernBertEncoderLayer"]
    # Wqkv is [q | k | v] and Wi is [input | gate]: each part is sharded on its own.
    base_model_tp_plan: ClassVar[dict[str, str]] = {
        "layers.*.attn.Wqkv": "packed_colwise:3",
        "layers.*.attn.Wo": "rowwise",
        "layers.*.mlp.Wi": "packed_colwise",
        "layers.*.mlp.Wo": "rowwise",
    }

    def __init__(self, config: ModernBertConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        _check_supported(config)

    def _init_weights(self, module: nn.Module) -> None:
        """transformers' scheme: normal layers as the default, then truncated normals (at
        ``initializer_cutoff_factor`` standard deviations) for the embeddings and projections, with
        a smaller standard deviation for the projections back into the residual stream."""
        super()._init_weights(module)
        config = self.config
        cutoff = config.initializer_cutoff_factor if config.initializer_cutoff_factor is not None else 3.0
        std_in = config.initializer_range
        std_out = config.initializer_range / math.sqrt(2.0 * config.num_hidden_layers)

        def truncated(layer: nn.Module, std: float) -> None:
            nn.init.trunc_normal_(layer.weight, mean=0.0, std=std, a=-cutoff * std, b=cutoff * std)
            if getattr(layer, "bias", None) is not None:
                nn.init.zeros_(layer.bias)

        if isinstance(module, ModernBertEmbeddings):
            truncated(module.tok_embeddings, std_in)
        elif isinstance(module, (ModernBertMLP, ModernBertAttention)):
            truncated(module.Wi if isinstance(module, ModernBertMLP) else module.Wqkv, std_in)
            truncated(module.Wo, std_out)
        elif isinstance(module, ModernBertPredictionHead):
            truncated(module.dense, std_out)
        elif isinstance(module, ModernBertForMaskedLM):
            truncated(module.decoder, std_out)
        elif isinstance(module, _HEADS_WITH_CLASSIFIER):
            truncated(module.classifier, config.hidden_size**-0.5)


class ModernBertModel(ModernBertPreTrainedModel):
    """The bare ModernBERT encoder: ``last_hidden_state`` after the final LayerNorm."""

    def __init__(self, config: ModernBertConfig) -> None:
        super().__init__(config)
        self.embeddings = ModernBertEmbeddings(config)
        self.layers = nn.ModuleList(
            [ModernBertEncoderLayer(config, index) for index in range(config.num_hidden_layers)]
        )
        self.final_norm = nn.LayerNorm(config.hidden_size, eps=config.norm_eps, bias=config.norm_bias)
        head_dim = config.hidden_size // config.num_attention_heads
        self.rotary_embeddings = {
            layer_type: RotaryEmbedding(
                SimpleNamespace(
                    rope_parameters=config.rope_parameters[layer_type],
                    head_dim=head_dim,
                    max_position_embeddings=config.max_position_embeddings,
                )
            )
            for layer_type in sorted(set(config.layer_types))
        }
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.tok_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.tok_embeddings = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        unpad_inputs: bool | None = None,
    ) -> Any:
        """``unpad_inputs=True`` runs the layers on the real tokens only (see the module docstring);
        ``attn_implementation="flash_attention_2"`` always does, unless attentions are asked for
        (their weights need the padded path). ``hidden_states`` are the embeddings' output, then
        each layer's, the last one after the final LayerNorm (as transformers)."""
        check_model_inputs(input_ids, inputs_embeds)
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        hidden_states = self.embeddings(input_ids, inputs_embeds)
        batch_size, length = hidden_states.shape[:2]
        device = hidden_states.device
        if position_ids is None:
            position_ids = torch.arange(length, device=device)[None]
        unpad = not output_attentions and (
            bool(unpad_inputs) or self.config._attn_implementation == "flash_attention_2"
        )
        packed = None
        if unpad:
            if attention_mask is None:
                attention_mask = torch.ones(batch_size, length, dtype=torch.bool, device=device)
            packed = _Packed.of(attention_mask.to(device), position_ids.to(device))
            hidden_states = packed.pack(hidden_states)
            position_ids = packed.positions[None]
        position_embeddings = {
            layer_type: rotary(hidden_states, position_ids.expand(hidden_states.shape[0], -1))
            for layer_type, rotary in self.rotary_embeddings.items()
        }
        masks = self._masks(attention_mask, packed, length, device)
        all_hidden_states: list[torch.Tensor] = []
        all_attentions: list[torch.Tensor] = []
        for layer in self.layers:
            if output_hidden_states:
                all_hidden_states.append(hidden_states)
            hidden_states, weights = layer(
                hidden_states,
                *position_embeddings[layer.attention_type],
                masks[layer.attention_type],
                packed,
                output_attentions,
            )
            if output_attentions:
                all_attentions.append(weights)
        hidden_states = self.final_norm(hidden_states)
        if output_hidden_states:
            all_hidden_states.append(hidden_states)
        if packed is not None:
            hidden_states = packed.unpack(hidden_states, batch_size, length)
            all_hidden_states = [packed.unpack(states, batch_size, length) for states in all_hidden_states]
        output = BaseModelOutput(
            last_hidden_state=hidden_states,
            hidden_states=tuple(all_hidden_states) if output_hidden_states else None,
            attentions=tuple(all_attentions) if output_attentions else None,
        )
        return self._output(output, return_dict)

    def _masks(
        self, attention_mask: torch.Tensor | None, packed: _Packed | None, length: int, device: torch.device
    ) -> dict[str, torch.Tensor | None]:
        """Each layer type's boolean attention mask (None: every token sees every token)."""
        window = self.config.sliding_window
        if packed is not None:
            if self.config._attn_implementation == "flash_attention_2":
                return dict.fromkeys(LAYER_TYPES)  # flash_attn takes cu_seqlens and the window itself
            return {"full_attention": packed.mask(None), "sliding_attention": packed.mask(window)}
        padding = None
        if attention_mask is not None and not bool(attention_mask.all()):
            padding = attention_mask.to(device=device, dtype=torch.bool)[:, None, None, :]
        positions = torch.arange(length, device=device)
        sliding = ((positions[:, None] - positions[None, :]).abs() <= window)[None, None]
        return {
            "full_attention": padding,
            "sliding_attention": sliding if padding is None else sliding & padding,
        }


def _pooled(hidden_states: torch.Tensor, attention_mask: torch.Tensor | None, pooling: str) -> torch.Tensor:
    """``classifier_pooling``: the first token (``"cls"``) or the mean over the real tokens (``"mean"``)."""
    if pooling == "cls":
        return hidden_states[:, 0]
    if attention_mask is None:
        attention_mask = torch.ones(hidden_states.shape[:2], device=hidden_states.device, dtype=torch.bool)
    attention_mask = attention_mask.to(hidden_states.device)
    return (hidden_states * attention_mask.unsqueeze(-1)).sum(dim=1) / attention_mask.sum(dim=1, keepdim=True)


class ModernBertForMaskedLM(ModernBertPreTrainedModel):
    """ModernBERT with the masked language modelling head; ``decoder`` is tied to the token
    embeddings (``tie_word_embeddings``).

    With ``config.sparse_prediction`` and ``labels``, the logits are computed only at the positions
    whose label is not ``sparse_pred_ignore_index``: ``logits`` is then (masked tokens, vocabulary).
    """

    def __init__(self, config: ModernBertConfig) -> None:
        super().__init__(config)
        self.model = ModernBertModel(config)
        self.head = ModernBertPredictionHead(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=config.decoder_bias)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.decoder = new_embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
        unpad_inputs: bool | None = None,
    ) -> Any:
        outputs = self.model(
            input_ids,
            attention_mask,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
            unpad_inputs=unpad_inputs,
        )
        hidden_states = outputs.last_hidden_state
        if self.config.sparse_prediction and labels is not None:
            labels = labels.reshape(-1)
            hidden_states = hidden_states.reshape(labels.shape[0], -1)
            kept = labels != self.config.sparse_pred_ignore_index
            hidden_states, labels = hidden_states[kept], labels[kept]
        logits = self.decoder(self.head(hidden_states))
        loss = masked_lm_loss(logits, labels, num_items_in_batch) if labels is not None else None
        output = MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class ModernBertForSequenceClassification(ModernBertPreTrainedModel):
    """ModernBERT with a classification / regression head over the pooled output
    (``classifier_pooling``: the first token, or the mean over the real tokens)."""

    def __init__(self, config: ModernBertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = ModernBertModel(config)
        self.head = ModernBertPredictionHead(config)
        self.drop = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
        unpad_inputs: bool | None = None,
    ) -> Any:
        outputs = self.model(
            input_ids,
            attention_mask,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
            unpad_inputs=unpad_inputs,
        )
        pooled = _pooled(outputs.last_hidden_state, attention_mask, self.config.classifier_pooling)
        logits = self.classifier(self.drop(self.head(pooled)))
        loss = None
        if labels is not None:
            loss = sequence_classification_loss(logits, labels, self.config, self.num_labels)
        output = SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class ModernBertForTokenClassification(ModernBertPreTrainedModel):
    """ModernBERT with a per-token classification head (NER, POS tagging)."""

    def __init__(self, config: ModernBertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = ModernBertModel(config)
        self.head = ModernBertPredictionHead(config)
        self.drop = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
        unpad_inputs: bool | None = None,
    ) -> Any:
        outputs = self.model(
            input_ids,
            attention_mask,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
            unpad_inputs=unpad_inputs,
        )
        logits = self.classifier(self.drop(self.head(outputs.last_hidden_state)))
        loss = token_classification_loss(logits, labels, self.num_labels) if labels is not None else None
        output = TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


class ModernBertForQuestionAnswering(ModernBertPreTrainedModel):
    """ModernBERT with a span-extraction head (start and end logits)."""

    def __init__(self, config: ModernBertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = ModernBertModel(config)
        self.head = ModernBertPredictionHead(config)
        self.drop = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
        unpad_inputs: bool | None = None,
    ) -> Any:
        outputs = self.model(
            input_ids,
            attention_mask,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
            unpad_inputs=unpad_inputs,
        )
        logits = self.classifier(self.drop(self.head(outputs.last_hidden_state)))
        start_logits, end_logits = logits.split(1, dim=-1)
        start_logits = start_logits.squeeze(-1).contiguous()
        end_logits = end_logits.squeeze(-1).contiguous()
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = question_answering_loss(
                start_logits, end_logits, start_positions, end_positions, num_items_in_batch
            )
        output = QuestionAnsweringModelOutput(
            loss=loss,
            start_logits=start_logits,
            end_logits=end_logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return self._output(output, return_dict)


class ModernBertForMultipleChoice(ModernBertPreTrainedModel):
    """ModernBERT scoring each of several choices; inputs are (batch, num_choices, length). With
    ``"cls"`` pooling each choice is read at its first real token (left padding allowed)."""

    def __init__(self, config: ModernBertConfig) -> None:
        super().__init__(config)
        self.model = ModernBertModel(config)
        self.head = ModernBertPredictionHead(config)
        self.drop = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(config.hidden_size, 1)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
        unpad_inputs: bool | None = None,
    ) -> Any:
        num_choices = input_ids.shape[1] if input_ids is not None else inputs_embeds.shape[1]

        def flat(tensor: torch.Tensor | None) -> torch.Tensor | None:
            return tensor.reshape(-1, *tensor.shape[2:]) if tensor is not None else None

        attention_mask = flat(attention_mask)
        outputs = self.model(
            flat(input_ids),
            attention_mask,
            flat(position_ids),
            flat(inputs_embeds),
            output_attentions,
            output_hidden_states,
            return_dict=True,
            unpad_inputs=unpad_inputs,
        )
        hidden_states = outputs.last_hidden_state
        if self.config.classifier_pooling == "cls" and attention_mask is not None:
            first_real = attention_mask.argmax(dim=-1).to(hidden_states.device)
            pooled = hidden_states[
                torch.arange(hidden_states.shape[0], device=hidden_states.device), first_real
            ]
        else:
            pooled = _pooled(hidden_states, attention_mask, self.config.classifier_pooling)
        logits = self.classifier(self.drop(self.head(pooled))).view(-1, num_choices)
        loss = multiple_choice_loss(logits, labels) if labels is not None else None
        output = MultipleChoiceModelOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )
        return self._output(output, return_dict)


_HEADS_WITH_CLASSIFIER = (
    ModernBertForSequenceClassification,
    ModernBertForTokenClassification,
    ModernBertForQuestionAnswering,
    ModernBertForMultipleChoice,
)
