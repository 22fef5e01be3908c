"""Numerics shared by families: activations, attention, masks and task losses.

Each function reproduces what transformers computes, so a family file can stay short and
still match transformers to float rounding.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from autohub_core.errors import (
    ConfigError,
    LabelError,
    ModelInputError,
    UnsupportedConfigError,
    UnsupportedFeatureError,
)

__all__ = [
    "ACTIVATIONS",
    "ATTENTION_IMPLEMENTATIONS",
    "Conv1D",
    "additive_mask",
    "attention",
    "causal_lm_loss",
    "check_attention_implementation",
    "check_model_inputs",
    "cross_entropy",
    "get_activation",
    "last_non_pad_token",
    "masked_lm_loss",
    "multiple_choice_loss",
    "padding_mask",
    "question_answering_loss",
    "relative_distance_scores",
    "relative_position_bucket",
    "sequence_classification_loss",
    "token_classification_loss",
]


class Conv1D(nn.Module):
    """A linear layer whose weight is stored transposed, ``(in_features, out_features)``, as in
    GPT-2-style checkpoints (transformers' ``pytorch_utils.Conv1D``).

    ``residual_projection`` marks the projections back into the residual stream, which GPT-2
    initialises with a smaller standard deviation. Tensor-parallel plans shard its weight on
    dim 1 for ``colwise`` and dim 0 for ``rowwise``.
    """

    def __init__(self, out_features: int, in_features: int, residual_projection: bool = False) -> None:
        super().__init__()
        self.out_features = out_features
        self.in_features = in_features
        self.residual_projection = residual_projection
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.empty(out_features))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """``hidden_states @ weight + bias`` over the last dimension."""
        output_shape = (*hidden_states.shape[:-1], self.out_features)
        flat = hidden_states.reshape(-1, hidden_states.shape[-1])
        return torch.addmm(self.bias, flat, self.weight).view(output_shape)


def check_model_inputs(input_ids: torch.Tensor | None, inputs_embeds: torch.Tensor | None) -> None:
    """Raise :class:`ModelInputError` unless exactly one of ``input_ids`` (batch, length) and
    ``inputs_embeds`` (batch, length, hidden) is given, with at least one position."""
    if (input_ids is None) == (inputs_embeds is None):
        raise ModelInputError("pass exactly one of input_ids and inputs_embeds")
    name, given = ("input_ids", input_ids) if input_ids is not None else ("inputs_embeds", inputs_embeds)
    length_dim = 1 if name == "input_ids" else -2
    if given.dim() >= 2 and given.shape[length_dim] == 0:
        raise ModelInputError(
            f"{name} has no positions (shape {tuple(given.shape)}): give at least one token (an empty "
            "text encodes to none when the tokenizer adds no special tokens)"
        )


def _gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def _gelu_fast(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu": F.gelu,
    "gelu_python": lambda x: x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0))),
    "gelu_new": _gelu_tanh,
    "gelu_accurate": _gelu_tanh,
    "gelu_python_tanh": _gelu_tanh,
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_fast": _gelu_fast,
    "gelu_10": lambda x: torch.clip(F.gelu(x), -10.0, 10.0),
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
    "relu": F.relu,
    "relu2": lambda x: torch.square(F.relu(x)),
    "relu6": F.relu6,
    "leaky_relu": F.leaky_relu,
    "silu": F.silu,
    "swish": F.silu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "mish": F.mish,
    "hardswish": F.hardswish,
    "linear": lambda x: x,
    "laplace": lambda x: 0.5 * (1.0 + torch.erf((x - 0.707107) / (0.282095 * math.sqrt(2.0)))),
}


def get_activation(name: object, key: str = "hidden_act") -> Callable[[torch.Tensor], torch.Tensor]:
    """The activation named by a config value; unknown names raise naming the config key."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise UnsupportedConfigError(
            f"config key {key!r} = {name!r} is not a supported activation; use one of {sorted(ACTIVATIONS)}"
        )
    return ACTIVATIONS[name]


def additive_mask(mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """Boolean "may attend" mask -> additive mask: 0 where allowed, the dtype's most negative value elsewhere."""
    if mask is None:
        return None
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, torch.finfo(dtype).min)


def padding_mask(attention_mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """(batch, seq) 1/0 mask -> additive (batch, 1, 1, seq) mask for attention, or None."""
    if attention_mask is None:
        return None
    if attention_mask.dim() == 2:
        attention_mask = attention_mask[:, None, None, :]
    elif attention_mask.dim() == 3:
        attention_mask = attention_mask[:, None, :, :]
    inverted = 1.0 - attention_mask.to(dtype)
    return inverted.masked_fill(inverted.bool(), torch.finfo(dtype).min)


#: The ``attn_implementation`` values :func:`attention` runs, with transformers' names.
ATTENTION_IMPLEMENTATIONS = ("eager", "sdpa", "flex_attention", "flash_attention_2")


def check_attention_implementation(name: object) -> str:
    """``name`` if this process can run it: an unknown name is a ConfigError listing the allowed ones;
    ``flex_attention`` without ``torch.nn.attention.flex_attention``, or ``flash_attention_2`` without
    the ``flash_attn`` package or a CUDA device, is an UnsupportedFeatureError saying what is missing."""
    if not isinstance(name, str) or name not in ATTENTION_IMPLEMENTATIONS:
        raise ConfigError(
            f"attn_implementation={name!r} is not supported; use one of {list(ATTENTION_IMPLEMENTATIONS)}"
        )
    if name == "flex_attention":
        try:
            importlib.import_module("torch.nn.attention.flex_attention")
        except ImportError as error:
            raise UnsupportedFeatureError(
                f"attn_implementation='flex_attention' needs torch.nn.attention.flex_attention, which torch "
                f"{torch.__version__} lacks; use 'sdpa' or 'eager'"
            ) from error
    if name == "flash_attention_2":
        missing = []
        try:
            importlib.import_module("flash_attn")
        except ImportError:
            missing.append("the flash_attn package (pip install flash-attn)")
        if not torch.cuda.is_available():
            missing.append("a CUDA device")
        if missing:
            raise UnsupportedFeatureError(
                f"attn_implementation='flash_attention_2' needs {' and '.join(missing)}, which this environment "
                "lacks; use 'sdpa', 'eager' or 'flex_attention'"
            )
    return name


def attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    dropout: float = 0.0,
    scale: float | None = None,
    is_causal: bool = False,
    output_attentions: bool = False,
    implementation: str = "sdpa",
    softcap: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Scaled dot-product attention over (batch, heads, seq, head_dim) tensors.

    ``mask`` is boolean (True = attend) or additive (0 / large negative, or a bias such as T5's),
    broadcast to (batch, heads, query, key); ``is_causal`` adds the causal pattern, aligned on the
    last key (queries are the last positions when there is a cache). ``implementation``:

    - ``"eager"``: softmax(QKᵀ·scale + mask)·V computed explicitly (the softmax in float32); also
      used whenever ``output_attentions`` is set, since only it has the weights to return;
    - ``"sdpa"``: ``F.scaled_dot_product_attention``;
    - ``"flex_attention"``: torch's ``flex_attention`` (a boolean mask as a block mask, an additive
      one as a score_mod; run eagerly, ``torch.compile`` the model to fuse it), without dropout;
    - ``"flash_attention_2"``: ``flash_attn`` on float16 / bfloat16 CUDA tensors, for padding and
      causal masks (padded batches go through its variable-length function).

    ``softcap`` (Gemma 2's attention logit soft-capping) replaces the scaled scores by
    ``tanh(scores / softcap) * softcap`` before the mask; only ``"eager"`` computes it, the other
    implementations raise ``UnsupportedFeatureError``.

    Returns the output (batch, heads, query, head_dim) and, with ``output_attentions``, the weights.
    """
    if is_causal and (mask is not None or query.shape[-2] != key.shape[-2]):
        # sdpa's own is_causal aligns on the first key: spell the pattern out (aligned on the last).
        causal = _causal_pattern(query.shape[-2], key.shape[-2], query.device)
        if mask is None:
            mask = causal[None, None]
        elif mask.dtype == torch.bool:
            mask = mask & causal
        else:
            mask = mask.masked_fill(~causal, torch.finfo(mask.dtype).min)
        is_causal = False
    if output_attentions or implementation == "eager":
        return _eager_attention(query, key, value, mask, dropout, scale, is_causal, softcap)
    if softcap is not None:
        raise UnsupportedFeatureError(
            f"attn_implementation={implementation!r} cannot soft-cap attention logits; use 'eager'"
        )
    if implementation == "sdpa":
        output = F.scaled_dot_product_attention(
            query, key, value, attn_mask=mask, dropout_p=dropout, scale=scale, is_causal=is_causal
        )
        return output, None
    if implementation == "flex_attention":
        return _flex_attention(query, key, value, mask, dropout, scale, is_causal), None
    if implementation != "flash_attention_2":
        raise ConfigError(
            f"attn_implementation={implementation!r} is not supported; use one of {list(ATTENTION_IMPLEMENTATIONS)}"
        )
    return _flash_attention(query, key, value, mask, dropout, scale, is_causal), None


def _causal_pattern(query_length: int, key_length: int, device: torch.device) -> torch.Tensor:
    """(query, key) booleans: query ``i`` sees keys ``<= i + key_length - query_length``."""
    ones = torch.ones(query_length, key_length, dtype=torch.bool, device=device)
    return ones.tril(key_length - query_length)


def _eager_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None,
    dropout: float,
    scale: float | None,
    is_causal: bool,
    softcap: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(QKᵀ·scale + mask)·V step by step, as transformers' eager attention; returns the weights too."""
    scale = 1.0 / math.sqrt(query.size(-1)) if scale is None else scale
    scores = torch.matmul(query, key.transpose(-1, -2)) * scale
    if softcap is not None:
        scores = torch.tanh(scores / softcap) * softcap
    if is_causal:
        causal = _causal_pattern(scores.shape[-2], scores.shape[-1], scores.device)
        scores = scores.masked_fill(~causal, torch.finfo(scores.dtype).min)
    if mask is not None:
        scores = scores + (additive_mask(mask, scores.dtype) if mask.dtype == torch.bool else mask)
    weights = torch.softmax(scores.float(), dim=-1).to(query.dtype)
    weights = F.dropout(weights, p=dropout, training=dropout > 0)
    return torch.matmul(weights, value), weights


def _flex_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None,
    dropout: float,
    scale: float | None,
    is_causal: bool,
) -> torch.Tensor:
    """torch's flex_attention: causal / boolean masks as a block mask (fully masked query rows give
    zeros), additive masks and biases added to the scores by a score_mod."""
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    if dropout > 0:
        raise UnsupportedFeatureError(
            "attn_implementation='flex_attention' has no attention dropout: call model.eval(), set the "
            "config's attention dropout to 0, or use 'sdpa' / 'eager' for training"
        )
    batch, heads, query_length, _ = query.shape
    key_length = key.shape[-2]
    score_mod = block_mask = None
    if mask is not None and mask.dtype != torch.bool:
        bias = mask.expand(batch, heads, query_length, key_length)

        def score_mod(
            score: torch.Tensor, b: torch.Tensor, h: torch.Tensor, q: torch.Tensor, k: torch.Tensor
        ) -> torch.Tensor:
            return score + bias[b, h, q, k]

    elif mask is not None:
        allowed = mask.expand(batch, heads, query_length, key_length)

        def mask_mod(b: torch.Tensor, h: torch.Tensor, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
            return allowed[b, h, q, k]

        mask_heads = heads if mask.shape[1] > 1 else None  # None: one block mask for every head
        block_mask = create_block_mask(
            mask_mod, batch, mask_heads, query_length, key_length, device=query.device
        )
    elif is_causal:
        offset = key_length - query_length

        def causal_mod(b: torch.Tensor, h: torch.Tensor, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
            return q + offset >= k

        block_mask = create_block_mask(causal_mod, None, None, query_length, key_length, device=query.device)
    return flex_attention(
        query,
        key,
        value,
        score_mod=score_mod,
        block_mask=block_mask,
        scale=scale,
        enable_gqa=heads != key.shape[1],
    )


def _flash_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None,
    dropout: float,
    scale: float | None,
    is_causal: bool,
) -> torch.Tensor:
    """flash_attn's ``flash_attn_func`` (no mask), or ``flash_attn_varlen_func`` over the unpadded
    tokens of a padding (+ causal) mask; padded query rows of a causal mask give zeros, as in
    transformers. flash_attn takes float16 / bfloat16 CUDA tensors (batch, seq, heads, head_dim) and
    aligns causality on the last key."""
    from flash_attn import flash_attn_func, flash_attn_varlen_func

    batch, _, query_length, _ = query.shape
    q, k, v = (states.transpose(1, 2) for states in (query, key, value))
    if mask is None:
        output = flash_attn_func(q, k, v, dropout_p=dropout, softmax_scale=scale, causal=is_causal)
        return output.transpose(1, 2)
    keys, causal = _padding_of(mask.expand(batch, query.shape[1], query_length, key.shape[-2]))
    queries = keys[:, -query_length:] if causal else torch.ones_like(keys[:, :1]).expand(-1, query_length)
    query_index, query_offsets, longest_query = _unpadding(queries)
    key_index, key_offsets, longest_key = _unpadding(keys)
    packed = flash_attn_varlen_func(
        q.reshape(-1, *q.shape[2:])[query_index],
        k.reshape(-1, *k.shape[2:])[key_index],
        v.reshape(-1, *v.shape[2:])[key_index],
        query_offsets,
        key_offsets,
        longest_query,
        longest_key,
        dropout_p=dropout,
        softmax_scale=scale,
        causal=causal,
    )
    output = packed.new_zeros(batch * query_length, *packed.shape[1:])
    output[query_index] = packed
    return output.view(batch, query_length, *packed.shape[1:]).transpose(1, 2)


def _padding_of(mask: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """The (batch, key) "not padding" booleans of a (batch, heads, query, key) mask that is key
    padding, optionally with the causal pattern, and whether it is causal; any other mask (a bias,
    a sliding window) is refused."""
    if mask.dtype == torch.bool:
        allowed = mask
    else:
        allowed = mask == 0
        if not bool((allowed | (mask <= torch.finfo(mask.dtype).min / 2)).all()):
            raise UnsupportedFeatureError(
                "attn_implementation='flash_attention_2' cannot add an attention bias; use 'sdpa', 'eager' "
                "or 'flex_attention'"
            )
    keys = allowed.any(dim=2).any(dim=1)
    padding = keys[:, None, None, :]
    if torch.equal(allowed, padding.expand_as(allowed)):
        return keys, False
    causal = padding & _causal_pattern(allowed.shape[-2], allowed.shape[-1], mask.device)
    if torch.equal(allowed, causal.expand_as(allowed)):
        return keys, True
    raise UnsupportedFeatureError(
        "attn_implementation='flash_attention_2' takes padding and causal masks only; this mask (a sliding "
        "window or another pattern) needs 'sdpa', 'eager' or 'flex_attention'"
    )


def _unpadding(valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """For (batch, seq) booleans: the flat indices of the valid tokens, the int32 cumulative
    sequence lengths flash_attn's variable-length function takes, and the longest length."""
    lengths = valid.sum(dim=-1, dtype=torch.int32)
    offsets = F.pad(torch.cumsum(lengths, dim=0, dtype=torch.int32), (1, 0))
    return valid.flatten().nonzero().flatten(), offsets, int(lengths.max())


def relative_distance_scores(
    query: torch.Tensor, key: torch.Tensor, distance_embedding: nn.Embedding, with_key: bool
) -> torch.Tensor:
    """The distance terms of BERT-style ``relative_key`` attention scores, before scaling:
    ``query · d(i - j)``, plus ``key · d(i - j)`` when ``with_key`` (``relative_key_query``).

    ``distance_embedding`` has ``2 * max_positions - 1`` rows (distance ``i - j`` is row
    ``i - j + max_positions - 1``); the queries are the last positions of the keys (a KV cache).
    """
    query_length, key_length = query.shape[-2], key.shape[-2]
    offset = (distance_embedding.num_embeddings + 1) // 2 - 1
    query_positions = torch.arange(key_length - query_length, key_length, device=query.device).view(-1, 1)
    key_positions = torch.arange(key_length, device=query.device).view(1, -1)
    embedding = distance_embedding(query_positions - key_positions + offset).to(query.dtype)
    scores = torch.einsum("bhld,lrd->bhlr", query, embedding)
    if with_key:
        scores = scores + torch.einsum("bhrd,lrd->bhlr", key, embedding)
    return scores


def relative_position_bucket(
    relative_position: torch.Tensor, bidirectional: bool, num_buckets: int, max_distance: int
) -> torch.Tensor:
    """Map ``key_position - query_position`` to a relative-attention bucket, as T5 and MPNet do.

    With ``bidirectional`` positive offsets take the upper half of the buckets; a causal layer puts
    every positive offset (the future) in bucket 0. Within the buckets of one direction, the first
    half are exact distances and the rest log-spaced up to ``max_distance``; farther distances share
    the last bucket.
    """
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets += (relative_position > 0).to(torch.long) * num_buckets
        distance = torch.abs(relative_position)
    else:
        distance = -torch.clamp(relative_position, max=0)
    max_exact = num_buckets // 2
    is_small = distance < max_exact
    log_bucket = max_exact + (
        torch.log(distance.float() / max_exact)
        / math.log(max_distance / max_exact)
        * (num_buckets - max_exact)
    ).to(torch.long)
    log_bucket = torch.clamp(log_bucket, max=num_buckets - 1)
    return buckets + torch.where(is_small, distance, log_bucket)


def last_non_pad_token(
    values: torch.Tensor, input_ids: torch.Tensor | None, pad_token_id: int | None
) -> torch.Tensor:
    """(batch, seq, ...) -> (batch, ...): each row at its rightmost token that is not ``pad_token_id``
    (any padding side), as transformers' decoder-only classifiers pool; the last position when
    there are no ``input_ids``. Without a pad token only a batch of one is accepted."""
    batch_size = values.shape[0]
    if pad_token_id is None and batch_size != 1:
        raise ValueError("Cannot handle batch sizes > 1 if no padding token is defined.")
    if pad_token_id is None or input_ids is None:
        last_token: torch.Tensor | int = -1
    else:
        non_pad = (input_ids != pad_token_id).to(values.device, torch.int32)
        positions = torch.arange(input_ids.shape[-1], device=values.device, dtype=torch.int32)
        last_token = (positions * non_pad).argmax(-1)
    return values[torch.arange(batch_size, device=values.device), last_token]


def _check_labels(
    labels: torch.Tensor,
    shape: tuple[int, ...],
    *,
    name: str = "labels",
    classes: int | None = None,
    ignore_index: int | None = -100,
) -> None:
    """Refuse labels that cannot fit the head, before any loss (and so any weight update) is computed.

    Integer labels (``classes`` given) must have ``shape`` and lie in ``[0, classes)`` or equal
    ``ignore_index``; float labels need the same number of elements. The value check is skipped
    while ``torch.compile`` traces (it would need a data-dependent branch).
    """
    if not isinstance(labels, torch.Tensor):
        raise LabelError(f"{name} must be a torch.Tensor, got {type(labels).__name__}")
    if classes is not None:
        if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
            raise LabelError(f"{name} must hold integer class indices, got dtype {labels.dtype}")
        if tuple(labels.shape) != tuple(shape) and labels.numel() != math.prod(shape):
            raise LabelError(f"{name} has shape {tuple(labels.shape)}; this head expects {tuple(shape)}")
        if labels.numel() and not torch.compiler.is_compiling():
            valid = (labels >= 0) & (labels < classes)
            if ignore_index is not None:
                valid |= labels == ignore_index
            if not bool(valid.all()):
                wrong = labels[~valid][0].item()
                allowed = f"0..{classes - 1}" + (f" or {ignore_index}" if ignore_index is not None else "")
                raise LabelError(
                    f"{name} holds {wrong}, outside {allowed}; check num_labels (config: {classes}) "
                    "and how the labels were encoded"
                )
    elif labels.numel() != math.prod(shape):
        raise LabelError(f"{name} has shape {tuple(labels.shape)}; this head expects {tuple(shape)}")


def cross_entropy(
    logits: torch.Tensor,
    labels: torch.Tensor,
    num_items_in_batch: torch.Tensor | int | None = None,
    ignore_index: int = -100,
) -> torch.Tensor:
    """Cross-entropy, averaged over the non-ignored labels, or summed and divided by
    ``num_items_in_batch`` (the labelled items of the whole accumulated batch, as ``Trainer``
    counts them) when it is given: the loss transformers computes under gradient accumulation."""
    if num_items_in_batch is None:
        return F.cross_entropy(logits, labels, ignore_index=ignore_index)
    loss = F.cross_entropy(logits, labels, ignore_index=ignore_index, reduction="sum")
    if isinstance(num_items_in_batch, torch.Tensor):
        num_items_in_batch = num_items_in_batch.to(loss.device)
    return loss / num_items_in_batch


def causal_lm_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    num_items_in_batch: torch.Tensor | int | None = None,
    ignore_index: int = -100,
    shift_labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """Next-token cross-entropy in float32: position t predicts ``labels[t + 1]`` (or ``shift_labels[t]``)."""
    vocab_size = logits.shape[-1]
    if shift_labels is None:
        _check_labels(labels, tuple(logits.shape[:-1]), classes=vocab_size, ignore_index=ignore_index)
        shift_labels = F.pad(labels, (0, 1), value=ignore_index)[..., 1:]
    else:
        _check_labels(
            shift_labels,
            tuple(logits.shape[:-1]),
            name="shift_labels",
            classes=vocab_size,
            ignore_index=ignore_index,
        )
    return cross_entropy(
        logits.float().reshape(-1, vocab_size),
        shift_labels.reshape(-1).to(logits.device),
        num_items_in_batch,
        ignore_index,
    )


def masked_lm_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    num_items_in_batch: torch.Tensor | int | None = None,
    ignore_index: int = -100,
    upcast: bool = True,
) -> torch.Tensor:
    """Cross-entropy of each labelled position over the vocabulary (label -100 ignored)."""
    vocab_size = logits.shape[-1]
    _check_labels(labels, tuple(logits.shape[:-1]), classes=vocab_size, ignore_index=ignore_index)
    logits = logits.float() if upcast else logits
    return cross_entropy(
        logits.reshape(-1, vocab_size), labels.reshape(-1).to(logits.device), num_items_in_batch, ignore_index
    )


def sequence_classification_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    config: object,
    num_labels: int,
    num_items_in_batch: torch.Tensor | int | None = None,
) -> torch.Tensor:
    """Loss by ``config.problem_type`` (inferred from labels when unset, as transformers does).

    Sets ``config.problem_type`` on first use like transformers. ``num_items_in_batch``
    normalises the single-label cross-entropy (decoder-only families in transformers).
    """
    if not isinstance(labels, torch.Tensor):
        raise LabelError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    problem_type = getattr(config, "problem_type", None)
    if problem_type is None:
        if num_labels == 1:
            problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int):
            problem_type = "single_label_classification"
        else:
            problem_type = "multi_label_classification"
        config.problem_type = problem_type  # type: ignore[attr-defined]
    batch = logits.shape[0]
    labels = labels.to(logits.device)
    if problem_type == "regression":
        _check_labels(labels, (batch, num_labels))
        if num_labels == 1:
            return F.mse_loss(logits.squeeze(), labels.squeeze().to(logits.dtype))
        return F.mse_loss(logits, labels.to(logits.dtype))
    if problem_type == "single_label_classification":
        _check_labels(labels, (batch,), classes=num_labels)
        return cross_entropy(logits.view(-1, num_labels), labels.view(-1), num_items_in_batch)
    if tuple(labels.shape) != tuple(logits.shape):
        raise LabelError(
            f"labels has shape {tuple(labels.shape)}; multi-label classification expects one 0/1 value per "
            f"label, shape {tuple(logits.shape)}"
        )
    return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))


def token_classification_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    num_labels: int,
    num_items_in_batch: torch.Tensor | int | None = None,
) -> torch.Tensor:
    """Cross-entropy over tokens; label -100 is ignored."""
    _check_labels(labels, tuple(logits.shape[:-1]), classes=num_labels)
    return cross_entropy(
        logits.view(-1, num_labels), labels.reshape(-1).to(logits.device), num_items_in_batch
    )


def multiple_choice_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the choices."""
    _check_labels(labels, (logits.shape[0],), classes=logits.shape[-1])
    return F.cross_entropy(logits, labels.to(logits.device))


def question_answering_loss(
    start_logits: torch.Tensor,
    end_logits: torch.Tensor,
    start_positions: torch.Tensor,
    end_positions: torch.Tensor,
    num_items_in_batch: torch.Tensor | int | None = None,
) -> torch.Tensor:
    """Mean of start/end cross-entropies; positions outside the sequence are ignored."""
    batch = start_logits.shape[0]
    for name, positions in (("start_positions", start_positions), ("end_positions", end_positions)):
        _check_labels(positions, (batch,), name=name, classes=None)
        if positions.is_floating_point():
            raise LabelError(f"{name} must hold integer token positions, got dtype {positions.dtype}")
    if start_positions.dim() > 1:
        start_positions = start_positions.squeeze(-1)
    if end_positions.dim() > 1:
        end_positions = end_positions.squeeze(-1)
    ignored = start_logits.size(1)
    start_positions = start_positions.clamp(0, ignored).to(start_logits.device)
    end_positions = end_positions.clamp(0, ignored).to(end_logits.device)
    start_loss = cross_entropy(start_logits, start_positions, num_items_in_batch, ignore_index=ignored)
    end_loss = cross_entropy(end_logits, end_positions, num_items_in_batch, ignore_index=ignored)
    return (start_loss + end_loss) / 2
