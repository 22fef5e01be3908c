"""Inference tasks over a model and its tokenizer: what ``autohub run`` executes.

Each task loads the Auto class it needs, runs the model in batches without gradients, and
turns logits into plain Python results (lists and dicts of str / int / float, ready for
JSON). Results follow transformers' pipelines: token classification has the same
aggregation strategies and output keys as ``TokenClassificationPipeline``, text
classification the same softmax / sigmoid choice, fill-mask the same proposition keys.

Use them from Python too::

    task = load_task("path/to/model", "fill-mask")
    task.run(["Paris is the [MASK] of France."], top_k=3)
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

from autohub_core.errors import AutohubError, PlacementError
from autohub_core.hub import HubOptions

__all__ = [
    "AGGREGATION_STRATEGIES",
    "TASK_NAMES",
    "FeatureExtraction",
    "FillMask",
    "InputError",
    "QuestionAnswering",
    "Summarization",
    "Task",
    "Text2TextGeneration",
    "TextClassification",
    "TextGeneration",
    "TokenClassification",
    "Translation",
    "check_device",
    "cosine_similarity_pairs",
    "load_task",
    "score_function",
]

AGGREGATION_STRATEGIES = ("none", "simple", "first", "average", "max")
_MAX_ANSWER_TOKENS = 15
#: A tokenizer ``model_max_length`` above this means "no limit" (transformers' default is 1e30).
_NO_LIMIT = int(1e20)

Progress = Callable[[int], None]


class InputError(AutohubError, ValueError):
    """The texts or options given to a task cannot be processed (no mask token, odd pair count...)."""


class Task:
    """A model and its tokenizer, loaded for one task; call :meth:`run` on texts."""

    name: ClassVar[str]
    auto_class: ClassVar[str]
    preprocessor_auto_class: ClassVar[str] = "AutoTokenizer"
    """The Auto class loading what turns inputs into tensors (a processor for image / audio tasks)."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        self.model = model
        self.tokenizer = tokenizer

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike,
        *,
        device: str | None = None,
        dtype: str | None = None,
        **hub_options: Any,
    ) -> Task:
        """Load the task's model class and its tokenizer (or processor) from a directory or Hub repo id."""
        import autohub_core

        options = vars(HubOptions.pop_from(dict(hub_options)))
        check_device(device)
        model_class = cls.model_class(name_or_path, options)
        model = model_class.from_pretrained(name_or_path, device=device, dtype=dtype, **options)
        preprocessor = getattr(autohub_core, cls.preprocessor_auto_class).from_pretrained(
            name_or_path, **options
        )
        return cls(model, preprocessor)

    @classmethod
    def model_class(cls, name_or_path: str | os.PathLike, hub_options: dict[str, Any]) -> Any:
        """The Auto class to load the model with (``auto_class``; a task may choose per checkpoint)."""
        import autohub_core

        return getattr(autohub_core, cls.auto_class)

    def run(self, texts: Sequence[str], **kwargs: Any) -> list[Any]:
        """One result per text (see each task for its shape)."""
        raise NotImplementedError

    # -- shared helpers -------------------------------------------------------------------

    def _max_length(self) -> int | None:
        """The longest input the model takes: the tokenizer's limit capped by the position table.

        None when neither sets a limit (a tokenizer config without ``model_max_length`` and a
        model with relative positions, such as T5): the texts are then not truncated.
        """
        limit = self.tokenizer.model_max_length
        if not isinstance(limit, int) or limit > _NO_LIMIT:
            limit = None
        positions = getattr(self.model.config, "max_position_embeddings", None)
        if isinstance(positions, int) and not isinstance(positions, bool) and positions > 0:
            limit = positions if limit is None else min(limit, positions)
        return limit

    def _encode(self, texts: Sequence[str], pairs: Sequence[str] | None = None, **kwargs: Any) -> Any:
        truncation = kwargs.pop("truncation", True)
        encoding = self.tokenizer(
            list(texts),
            list(pairs) if pairs is not None else None,
            padding=len(texts) > 1,  # a single text needs no pad token (e.g. a GPT-2 prompt)
            truncation=truncation,
            max_length=self._max_length(),
            return_tensors="pt",
            **kwargs,
        )
        return encoding

    def _forward(self, encoding: Any, model: Any = None) -> Any:
        """``model`` (default: the task's) on the tokenizer's outputs that its forward accepts."""
        import torch

        model = self.model if model is None else model
        names = set(self.tokenizer.model_input_names) | {"input_ids", "attention_mask", "token_type_ids"}
        inputs = {
            key: value.to(self.model.device)
            for key, value in encoding.items()
            if key in names and _forward_accepts(model, key)
        }
        with torch.inference_mode():
            return model(**inputs)


def score_function(config: Any) -> str:
    """How a classification head's logits become scores, as transformers' pipelines choose:
    ``"none"`` for regression, ``"sigmoid"`` for multi-label or one label, else ``"softmax"``."""
    if config.problem_type == "regression":
        return "none"
    if config.problem_type == "multi_label_classification" or config.num_labels == 1:
        return "sigmoid"
    return "softmax"


def check_device(device: str | None) -> None:
    """Raise :class:`InputError` unless ``device`` (``"cpu"``, ``"cuda:1"``, ``"mps"`` ...) can be used here."""
    if device is None:
        return
    from autohub_core.placement import available_device

    try:
        parsed = available_device(device)
    except PlacementError as error:
        raise InputError(str(error).replace("(use 'cpu')", "(use --device cpu)")) from None
    if parsed.type == "meta":
        raise InputError("device 'meta' holds no data: choose cpu, cuda, mps ...")


def _forward_accepts(model: Any, name: str) -> bool:
    import inspect

    parameters = inspect.signature(model.forward).parameters
    return name in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def batched(items: Sequence[Any], batch_size: int, progress: Progress | None = None) -> Iterator[list[Any]]:
    """Consecutive slices of ``batch_size`` items, reporting each finished slice to ``progress``."""
    if batch_size < 1:
        raise InputError(f"batch size must be at least 1, got {batch_size}")
    for start in range(0, len(items), batch_size):
        chunk = list(items[start : start + batch_size])
        yield chunk
        if progress is not None:
            progress(len(chunk))


def map_batches(
    items: Sequence[Any],
    batch_size: int,
    run_batch: Callable[[list[Any]], Sequence[Any]],
    *,
    length: Callable[[Any], int] | None = len,
    progress: Progress | None = None,
) -> list[Any]:
    """``run_batch`` over batches of ``batch_size`` items, one result per item, returned in the
    caller's order.

    With ``length`` (default: ``len``, characters for a text) the batches are formed longest first,
    as sentence-transformers does: texts of similar length share a batch, so little of each batch
    is padding (3.2x the throughput of the given order on mixed-length text: docs/performance.md). ``length=None``
    keeps the given order.
    """
    order = list(range(len(items)))
    if length is not None:
        order.sort(key=lambda index: -length(items[index]))  # stable: equal lengths keep their order
    results: list[Any] = [None] * len(items)
    for indices in batched(order, batch_size, progress):
        outputs = run_batch([items[index] for index in indices])
        for index, output in zip(indices, outputs, strict=True):
            results[index] = output
    return results


# -- token classification -------------------------------------------------------------------


class TokenClassification(Task):
    """Label each token (NER, POS); aggregation merges sub-words and adjacent entities."""

    name = "token-classification"
    auto_class = "AutoModelForTokenClassification"

    def run(
        self,
        texts: Sequence[str],
        *,
        aggregation: str = "none",
        ignore_labels: Sequence[str] = ("O",),
        batch_size: int = 8,
        progress: Progress | None = None,
    ) -> list[list[dict[str, Any]]]:
        """Entities of each text: ``entity``/``score``/``index``/``word``/``start``/``end`` per token
        for ``aggregation="none"``, else ``entity_group``/``score``/``word``/``start``/``end``."""
        import torch

        if aggregation not in AGGREGATION_STRATEGIES:
            raise InputError(
                f"aggregation must be one of {', '.join(AGGREGATION_STRATEGIES)}, got {aggregation!r}"
            )

        def run_batch(chunk: list[str]) -> list[list[dict[str, Any]]]:
            encoding = self._encode(chunk, return_special_tokens_mask=True, return_offsets_mapping=True)
            logits = self._forward(encoding).logits.float()
            scores = torch.softmax(logits, dim=-1).cpu()
            results = []
            for row, text in enumerate(chunk):
                length = int(encoding["attention_mask"][row].sum())
                tokens = self._pre_entities(
                    text,
                    encoding["input_ids"][row, :length].tolist(),
                    scores[row, :length],
                    encoding["offset_mapping"][row, :length].tolist(),
                    encoding["special_tokens_mask"][row, :length].tolist(),
                )
                entities = self._aggregate(tokens, aggregation)
                results.append(
                    [
                        entity
                        for entity in entities
                        if entity.get("entity", entity.get("entity_group")) not in ignore_labels
                    ]
                )
            return results

        return map_batches(texts, batch_size, run_batch, progress=progress)

    def _pre_entities(
        self,
        text: str,
        input_ids: list[int],
        scores: Any,
        offsets: list[list[int]],
        special_tokens_mask: list[int],
    ) -> list[dict[str, Any]]:
        backend_model = self.tokenizer.backend_tokenizer.model
        word_aware = bool(getattr(backend_model, "continuing_subword_prefix", None))
        unk_id = self.tokenizer.unk_token_id
        tokens = []
        for index, token_id in enumerate(input_ids):
            if special_tokens_mask[index]:
                continue
            word = self.tokenizer.convert_ids_to_tokens(token_id)
            start, end = offsets[index]
            word_ref = text[start:end]
            if word_aware:
                is_subword = len(word) != len(word_ref)
            else:  # transformers' fallback heuristic for tokenizers without word boundaries
                is_subword = start > 0 and " " not in text[start - 1 : start + 1]
            if token_id == unk_id:
                word, is_subword = word_ref, False
            tokens.append(
                {
                    "word": word,
                    "scores": scores[index],
                    "start": start,
                    "end": end,
                    "index": index,
                    "is_subword": is_subword,
                }
            )
        return tokens

    def _label(self, index: int) -> str:
        return self.model.config.id2label[index]

    def _aggregate(self, tokens: list[dict[str, Any]], aggregation: str) -> list[dict[str, Any]]:
        if aggregation in ("none", "simple"):
            entities = []
            for token in tokens:
                best = int(token["scores"].argmax())
                entities.append(
                    {
                        "entity": self._label(best),
                        "score": float(token["scores"][best]),
                        "index": token["index"],
                        "word": token["word"],
                        "start": token["start"],
                        "end": token["end"],
                    }
                )
        else:
            entities = [self._aggregate_word(group, aggregation) for group in _words(tokens)]
        if aggregation == "none":
            return entities
        return self._group_entities(entities)

    def _aggregate_word(self, tokens: list[dict[str, Any]], aggregation: str) -> dict[str, Any]:
        import torch

        if aggregation == "first":
            scores = tokens[0]["scores"]
        elif aggregation == "max":
            scores = max(tokens, key=lambda token: float(token["scores"].max()))["scores"]
        else:  # average
            scores = torch.stack([token["scores"] for token in tokens]).mean(dim=0)
        best = int(scores.argmax())
        return {
            "entity": self._label(best),
            "score": float(scores[best]),
            "word": self.tokenizer.convert_tokens_to_string([token["word"] for token in tokens]),
            "start": tokens[0]["start"],
            "end": tokens[-1]["end"],
        }

    def _group_entities(self, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Merge adjacent entities with the same tag (a ``B-`` tag starts a new group)."""
        groups: list[list[dict[str, Any]]] = []
        for entity in entities:
            prefix, tag = _split_tag(entity["entity"])
            if groups and prefix != "B" and tag == _split_tag(groups[-1][-1]["entity"])[1]:
                groups[-1].append(entity)
            else:
                groups.append([entity])
        return [
            {
                "entity_group": group[0]["entity"].split("-", 1)[-1],
                "score": sum(entity["score"] for entity in group) / len(group),
                "word": self.tokenizer.convert_tokens_to_string([entity["word"] for entity in group]),
                "start": group[0]["start"],
                "end": group[-1]["end"],
            }
            for group in groups
        ]


def _words(tokens: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    group: list[dict[str, Any]] = []
    for token in tokens:
        if group and not token["is_subword"]:
            yield group
            group = []
        group.append(token)
    if group:
        yield group


def _split_tag(label: str) -> tuple[str, str]:
    if label.startswith(("B-", "I-")):
        return label[0], label[2:]
    return "I", label


# -- text classification ----------------------------------------------------------------------


class TextClassification(Task):
    """Classify whole texts; softmax for single-label heads, sigmoid for multi-label or one label."""

    name = "text-classification"
    auto_class = "AutoModelForSequenceClassification"

    def score_function(self) -> str:
        """``"softmax"``, ``"sigmoid"`` or ``"none"``, chosen like transformers' pipeline."""
        return score_function(self.model.config)

    def run(
        self,
        texts: Sequence[str],
        *,
        top_k: int | None = 1,
        batch_size: int = 8,
        progress: Progress | None = None,
    ) -> list[list[dict[str, Any]]]:
        """For each text, ``top_k`` (None: all) ``{"label", "score"}`` sorted by score."""
        import torch

        if top_k is not None and top_k < 1:
            raise InputError(f"top-k must be at least 1, got {top_k}")
        function = self.score_function()

        def run_batch(chunk: list[str]) -> list[list[dict[str, Any]]]:
            logits = self._forward(self._encode(chunk)).logits.float().cpu()
            if function == "softmax":
                scores = torch.softmax(logits, dim=-1)
            elif function == "sigmoid":
                scores = torch.sigmoid(logits)
            else:
                scores = logits
            results = []
            for row in scores:
                ranked = sorted(
                    ({"label": self.model.config.id2label[i], "score": float(s)} for i, s in enumerate(row)),
                    key=lambda item: item["score"],
                    reverse=True,
                )
                results.append(ranked[:top_k] if top_k is not None else ranked)
            return results

        return map_batches(texts, batch_size, run_batch, progress=progress)


# -- fill-mask --------------------------------------------------------------------------------------


class FillMask(Task):
    """Predict the tokens behind the tokenizer's mask token."""

    name = "fill-mask"
    auto_class = "AutoModelForMaskedLM"

    def run(
        self,
        texts: Sequence[str],
        *,
        top_k: int = 5,
        batch_size: int = 8,
        progress: Progress | None = None,
    ) -> list[list[list[dict[str, Any]]]]:
        """For each text, one list per mask token of ``top_k`` propositions with ``score``,
        ``token``, ``token_str`` and ``sequence`` (the text with that token filled in)."""
        import torch

        mask_token, mask_id = self.tokenizer.mask_token, self.tokenizer.mask_token_id
        if mask_id is None:
            raise InputError(f"the tokenizer of {self.model.name_or_path} has no mask token")
        if top_k < 1:
            raise InputError(f"top-k must be at least 1, got {top_k}")
        for text in texts:
            if mask_token not in text:
                raise InputError(f"no {mask_token} in {text!r}: fill-mask needs the mask token in each text")

        def run_batch(chunk: list[str]) -> list[list[list[dict[str, Any]]]]:
            encoding = self._encode(chunk)
            logits = self._forward(encoding).logits.float().cpu()
            results = []
            for row in range(len(chunk)):
                length = int(encoding["attention_mask"][row].sum())
                input_ids = encoding["input_ids"][row, :length]
                positions = torch.nonzero(input_ids == mask_id).flatten().tolist()
                if not positions:
                    raise InputError(f"{chunk[row]!r} lost its {mask_token} to truncation")
                single = len(positions) == 1
                per_mask = []
                for position in positions:
                    values, predictions = (
                        logits[row, position].softmax(dim=-1).topk(min(top_k, logits.shape[-1]))
                    )
                    propositions = []
                    for value, prediction in zip(values.tolist(), predictions.tolist(), strict=True):
                        filled = input_ids.clone()
                        filled[position] = prediction
                        propositions.append(
                            {
                                "score": value,
                                "token": prediction,
                                "token_str": self.tokenizer.decode([prediction]),
                                "sequence": self.tokenizer.decode(
                                    filled.tolist(), skip_special_tokens=single
                                ),
                            }
                        )
                    per_mask.append(propositions)
                results.append(per_mask)
            return results

        return map_batches(texts, batch_size, run_batch, progress=progress)


# -- feature extraction -----------------------------------------------------------------------


class FeatureExtraction(Task):
    """Sentence embeddings pooled as the checkpoint's sentence-transformers modules declare
    (modules.json: the Pooling module's modes, a Normalize module, sentence_bert_config.json's
    ``max_seq_length``); without modules.json, the last hidden state mean-pooled over the attention
    mask and L2-normalised."""

    name = "feature-extraction"
    auto_class = "AutoModel"

    def __init__(self, model: Any, tokenizer: Any, pooling: _Pooling | None = None) -> None:
        super().__init__(model, tokenizer)
        self.pooling = pooling if pooling is not None else _Pooling()

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, **kwargs: Any) -> Task:
        """The model, its tokenizer, and the pooling its sentence-transformers files declare."""
        task = super().from_pretrained(name_or_path, **kwargs)
        task.pooling = _Pooling.declared(name_or_path, HubOptions.pop_from(dict(kwargs)))
        return task

    def embed(self, texts: Sequence[str], *, batch_size: int = 8, progress: Progress | None = None) -> Any:
        """A ``(len(texts), dimension)`` float32 tensor of embeddings (unit-norm when normalised), row
        ``i`` for ``texts[i]``; batches are formed longest text first (see :func:`map_batches`)."""
        import torch

        def run_batch(chunk: list[str]) -> Any:
            encoding = self._encode(chunk)
            hidden = self._forward(encoding, self._encoder()).last_hidden_state.float().cpu()
            return self.pooling.pool(hidden, encoding["attention_mask"].to(hidden.dtype))

        rows = map_batches(texts, batch_size, run_batch, progress=progress)
        if not rows:
            return torch.empty(0, getattr(self.model.config, "hidden_size", 0))
        return torch.stack(rows)

    def _max_length(self) -> int | None:
        """sentence_bert_config.json's ``max_seq_length`` when declared, else the model's limit."""
        declared = self.pooling.max_seq_length
        return declared if declared is not None else super()._max_length()

    def _encoder(self) -> Any:
        """The model that embeds: an encoder-decoder's encoder (T5), else the whole base model."""
        if getattr(self.model.config, "is_encoder_decoder", False) and hasattr(self.model, "get_encoder"):
            return self.model.get_encoder()
        return self.model

    def run(
        self, texts: Sequence[str], *, batch_size: int = 8, progress: Progress | None = None
    ) -> list[list[float]]:
        """One embedding (list of floats) per text."""
        return self.embed(texts, batch_size=batch_size, progress=progress).tolist()

    def similarity(
        self, texts: Sequence[str], *, batch_size: int = 8, progress: Progress | None = None
    ) -> list[float]:
        """Cosine similarity of each consecutive pair: texts[0]~texts[1], texts[2]~texts[3], ..."""
        if len(texts) == 0 or len(texts) % 2:
            raise InputError(f"similarity needs pairs of texts (an even count), got {len(texts)}")
        embeddings = self.embed(texts, batch_size=batch_size, progress=progress)
        return cosine_similarity_pairs(embeddings)


@dataclasses.dataclass(frozen=True)
class _Pooling:
    """How token states become one vector: sentence-transformers' Pooling modes (concatenated in
    order), then L2 normalisation when the checkpoint has a Normalize module."""

    modes: tuple[str, ...] = ("mean",)
    normalize: bool = True
    max_seq_length: int | None = None

    @classmethod
    def declared(cls, name_or_path: str | os.PathLike, options: HubOptions) -> _Pooling:
        """What modules.json (and the files it names) declare; the default without modules.json."""
        from autohub_core.hub import resolve_file
        from autohub_core.limits import read_json

        modules_file = resolve_file(name_or_path, "modules.json", options, required=False)
        if modules_file is None:
            return cls()
        modes: tuple[str, ...] = ("mean",)
        normalize = False
        for module in read_json(modules_file, InputError, expect=list):
            kind = str(module.get("type", "") if isinstance(module, dict) else "").rpartition(".")[2]
            if kind == "Pooling":
                path = f"{module.get('path') or ''}/config.json".lstrip("/")
                config = read_json(resolve_file(name_or_path, path, options), InputError)
                modes = _pooling_modes(config, path)
            elif kind == "Normalize":
                normalize = True
            elif kind != "Transformer":
                raise InputError(
                    f"{modules_file} lists a sentence-transformers {kind or repr(module)} module; feature-extraction "
                    "runs only Transformer, Pooling and Normalize modules"
                )
        settings_file = resolve_file(name_or_path, "sentence_bert_config.json", options, required=False)
        settings = read_json(settings_file, InputError) if settings_file is not None else {}
        max_seq_length = settings.get("max_seq_length")
        if max_seq_length is not None and (not isinstance(max_seq_length, int) or max_seq_length < 1):
            raise InputError(
                f"{settings_file}: max_seq_length must be a positive integer, got {max_seq_length!r}"
            )
        return cls(modes, normalize, max_seq_length)

    def pool(self, hidden: Any, mask: Any) -> Any:
        """(batch, seq, hidden) states and the (batch, seq) 1/0 mask -> (batch, dimension)."""
        import torch

        pooled = torch.cat([_pool(mode, hidden, mask) for mode in self.modes], dim=-1)
        return torch.nn.functional.normalize(pooled, p=2, dim=-1) if self.normalize else pooled


def _pool(mode: str, hidden: Any, mask: Any) -> Any:
    """One sentence-transformers pooling mode over the attended tokens (either padding side)."""
    import torch

    rows = torch.arange(hidden.shape[0])
    first = mask.argmax(dim=1)
    if mode == "cls":  # the first attended token
        return hidden[rows, first]
    if mode == "lasttoken":
        return hidden[rows, mask.shape[1] - 1 - mask.flip(1).argmax(dim=1)]
    weights = mask.unsqueeze(-1)
    if mode == "max":
        return hidden.masked_fill(weights == 0, float("-inf")).max(dim=1).values
    if mode == "weightedmean":  # token i of a text weighs i (counted from its first attended token)
        positions = torch.arange(1, hidden.shape[1] + 1, dtype=hidden.dtype)[None, :, None]
        weights = weights * (positions - first[:, None, None])
    total = (hidden * weights).sum(dim=1)
    count = weights.sum(dim=1).clamp(min=1e-9)
    return total / (count.sqrt() if mode == "mean_sqrt_len_tokens" else count)


#: sentence-transformers' Pooling config keys of its modes (``pooling_mode`` in its newer files).
_POOLING_MODE_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


def _pooling_modes(config: dict[str, Any], path: str) -> tuple[str, ...]:
    """The modes a Pooling config.json names: ``pooling_mode`` (a name or a list), else the legacy
    ``pooling_mode_*`` flags (none set: mean), as sentence-transformers reads them."""
    declared = config.get("pooling_mode")
    if declared is None:
        modes = tuple(mode for key, mode in _POOLING_MODE_KEYS.items() if config.get(key))
        return modes or ("mean",)
    modes = (
        (declared,) if isinstance(declared, str) else tuple(declared) if isinstance(declared, list) else ()
    )
    unknown = [mode for mode in modes if mode not in _POOLING_MODE_KEYS.values()]
    if not modes or unknown:
        raise InputError(
            f"{path}: pooling_mode {declared!r} is not one of {sorted(_POOLING_MODE_KEYS.values())} (or a list of them)"
        )
    return modes


def cosine_similarity_pairs(embeddings: Any) -> list[float]:
    """Cosine similarity of rows 0~1, 2~3, ... of a 2-D tensor."""
    import torch

    first, second = embeddings[0::2].double(), embeddings[1::2].double()
    return torch.nn.functional.cosine_similarity(first, second, dim=-1).tolist()


# -- question answering -------------------------------------------------------------------------


class QuestionAnswering(Task):
    """Extractive QA: the span of ``context`` that best answers each question."""

    name = "question-answering"
    auto_class = "AutoModelForQuestionAnswering"

    def run(
        self,
        texts: Sequence[str],
        *,
        context: str | None = None,
        max_answer_tokens: int = _MAX_ANSWER_TOKENS,
        batch_size: int = 8,
        progress: Progress | None = None,
    ) -> list[dict[str, Any]]:
        """For each question: ``{"score", "start", "end", "answer"}`` (character offsets in context).

        The score is p(start) * p(end) with both distributions taken over the context tokens
        only; spans are at most ``max_answer_tokens`` tokens long.
        """
        import torch

        if not context:
            raise InputError("question-answering needs a context (--context TEXT)")

        def run_batch(chunk: list[str]) -> list[dict[str, Any]]:
            encoding = self._encode(
                chunk, [context] * len(chunk), truncation="only_second", return_offsets_mapping=True
            )
            output = self._forward(encoding)
            results = []
            for row in range(len(chunk)):
                in_context = torch.tensor(
                    [sequence == 1 for sequence in encoding.sequence_ids(row)], dtype=torch.bool
                )
                if not bool(in_context.any()):
                    raise InputError(f"question {chunk[row]!r} leaves no room for the context")
                start = output.start_logits[row].float().cpu().masked_fill(~in_context, -math.inf)
                end = output.end_logits[row].float().cpu().masked_fill(~in_context, -math.inf)
                span_scores = start.softmax(-1)[:, None] * end.softmax(-1)[None, :]
                span_scores = torch.triu(span_scores) - torch.triu(span_scores, diagonal=max_answer_tokens)
                best = int(span_scores.argmax())
                first, last = divmod(best, span_scores.shape[1])
                offsets = encoding["offset_mapping"][row]
                char_start, char_end = int(offsets[first][0]), int(offsets[last][1])
                results.append(
                    {
                        "score": float(span_scores[first, last]),
                        "start": char_start,
                        "end": char_end,
                        "answer": context[char_start:char_end],
                    }
                )
            return results

        return map_batches(texts, batch_size, run_batch, progress=progress)


# -- text generation ----------------------------------------------------------------------------


class _Generation(Task):
    """Shared by the generating tasks: one prompt at a time through the model's ``generate()``."""

    def check_can_generate(self) -> None:
        """Raise :class:`InputError` unless the loaded model has ``generate()``."""
        if not self.model.can_generate() or not hasattr(self.model, "generate"):
            raise InputError(f"{type(self.model).__name__} cannot generate text")

    def _generate(
        self,
        text: str,
        stream: Callable[[str], None] | None,
        generation_config: Any,
        generator: Any,
        **generate_kwargs: Any,
    ) -> str:
        """The decoded new tokens for one prompt; streamed piece by piece unless beam search runs."""
        encoding = self._encode([text], truncation=False)
        inputs = {
            k: v.to(self.model.device) for k, v in encoding.items() if k in ("input_ids", "attention_mask")
        }
        beams = generate_kwargs.get("num_beams") or getattr(generation_config, "num_beams", 1) or 1
        streamer = _TextStreamer(self.tokenizer, stream) if stream is not None and beams == 1 else None
        if streamer is not None:
            generate_kwargs["streamer"] = streamer
        output = self.model.generate(
            **inputs, generation_config=generation_config, generator=generator, **generate_kwargs
        )
        prompt_length = 1 if self.model.config.is_encoder_decoder else inputs["input_ids"].shape[1]
        generated = self.tokenizer.decode(output[0, prompt_length:].tolist(), skip_special_tokens=True)
        if streamer is not None:
            streamer.end()
        elif stream is not None:
            stream(generated)
        return generated

    def _generate_all(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int | None,
        stream: Callable[[str], None] | None,
        progress: Progress | None,
        seed: int | None,
        task_params: dict[str, Any],
        generate_kwargs: dict[str, Any],
    ) -> list[str]:
        self.check_can_generate()
        generation_config = copy.deepcopy(self.model.generation_config)
        generation_config.update(**{k: v for k, v in task_params.items() if k != "prefix"})
        if max_new_tokens is not None:
            generate_kwargs["max_new_tokens"] = max_new_tokens
        results = []
        for prompt in prompts:  # each prompt its own seeded generator: results do not depend on the others
            generator = _generator(seed, self.model.device)
            results.append(self._generate(prompt, stream, generation_config, generator, **generate_kwargs))
            if progress is not None:
                progress(1)
        return results


def _generator(seed: int | None, device: Any) -> Any:
    """A torch generator seeded with ``seed`` (None: torch's global RNG, as transformers)."""
    if seed is None:
        return None
    import torch

    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise InputError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    return torch.Generator(device=device).manual_seed(seed)


class TextGeneration(_Generation):
    """Continue each prompt with the model's ``generate()`` (causal language models)."""

    name = "text-generation"
    auto_class = "AutoModelForCausalLM"

    def run(
        self,
        texts: Sequence[str],
        *,
        max_new_tokens: int | None = 20,
        stream: Callable[[str], None] | None = None,
        batch_size: int = 1,
        progress: Progress | None = None,
        seed: int | None = None,
        **generate_kwargs: Any,
    ) -> list[str]:
        """The generated continuation of each prompt; ``stream`` receives text pieces as they come.

        ``generate_kwargs`` are generation options (``do_sample``, ``temperature``, ``top_k``,
        ``top_p`` ...); ``seed`` makes sampling reproducible: each prompt is sampled with a
        generator seeded with it, as ``torch.manual_seed(seed)`` before transformers' ``generate``.
        """
        return self._generate_all(
            texts,
            max_new_tokens=max_new_tokens,
            stream=stream,
            progress=progress,
            seed=seed,
            task_params={},
            generate_kwargs=generate_kwargs,
        )


class Text2TextGeneration(_Generation):
    """Sequence-to-sequence generation (T5 ...), as transformers' ``Text2TextGenerationPipeline``.

    The prompt is prefixed with the config's ``prefix`` and ``config.task_specific_params[task]``
    (for summarization and translation) sets the prefix and the generation options, as
    transformers' pipelines do. Each result is ``{"<return_name>_text": text}``.
    """

    name = "text2text-generation"
    auto_class = "AutoModelForSeq2SeqLM"
    return_name: ClassVar[str] = "generated"

    def run(
        self,
        texts: Sequence[str],
        *,
        max_new_tokens: int | None = None,
        stream: Callable[[str], None] | None = None,
        batch_size: int = 1,
        progress: Progress | None = None,
        seed: int | None = None,
        src_lang: str | None = None,
        tgt_lang: str | None = None,
        **generate_kwargs: Any,
    ) -> list[dict[str, str]]:
        """One ``{"generated_text"}`` (``summary_text``, ``translation_text``) dict per text.

        Without ``max_new_tokens`` the length comes from the generation config (and the task's
        parameters); ``stream`` receives the text as it is produced (all at once with beam search);
        ``seed`` and the sampling options in ``generate_kwargs`` work as in :meth:`TextGeneration.run`.
        """
        params = self.task_params(src_lang, tgt_lang)
        prefix = params.get("prefix", getattr(self.model.config, "prefix", None)) or ""
        generated = self._generate_all(
            [prefix + text for text in texts],
            max_new_tokens=max_new_tokens,
            stream=stream,
            progress=progress,
            seed=seed,
            task_params=params,
            generate_kwargs=generate_kwargs,
        )
        return [{f"{self.return_name}_text": text} for text in generated]

    def task_params(self, src_lang: str | None = None, tgt_lang: str | None = None) -> dict[str, Any]:
        """This task's entry of ``config.task_specific_params`` (empty when there is none)."""
        if src_lang is not None or tgt_lang is not None:
            raise InputError(f"source and target languages only apply to translation, not {self.name}")
        return _task_specific_params(self.model.config).get(self.name, {})


class Summarization(Text2TextGeneration):
    """Summarize texts with a seq2seq model (``summarization`` task parameters, ``summary_text``)."""

    name = "summarization"
    return_name = "summary"


class Translation(Text2TextGeneration):
    """Translate texts with a seq2seq model (``translation_XX_to_YY`` parameters, ``translation_text``)."""

    name = "translation"
    return_name = "translation"

    def task_params(self, src_lang: str | None = None, tgt_lang: str | None = None) -> dict[str, Any]:
        """``translation_{src_lang}_to_{tgt_lang}``, or without languages the config's first
        ``translation_*`` entry (as transformers' ``pipeline("translation")``)."""
        params = _task_specific_params(self.model.config)
        pairs = [key for key in params if key.startswith("translation_")]
        if src_lang is None and tgt_lang is None:
            return params[pairs[0]] if pairs else {}
        if src_lang is None or tgt_lang is None:
            raise InputError("translation needs both a source and a target language (or neither)")
        key = f"translation_{src_lang}_to_{tgt_lang}"
        if key not in params and pairs:
            known = ", ".join(pair.removeprefix("translation_").replace("_to_", "->") for pair in pairs)
            raise InputError(f"the model has no parameters for {src_lang}->{tgt_lang}; it knows {known}")
        return params.get(key, {})


def _task_specific_params(config: Any) -> dict[str, dict[str, Any]]:
    """``config.task_specific_params`` with its dict entries only (ill-formed entries are ignored)."""
    params = getattr(config, "task_specific_params", None)
    if not isinstance(params, dict):
        return {}
    return {key: value for key, value in params.items() if isinstance(value, dict)}


class _TextStreamer:
    """Receives token ids from ``generate()`` (``put`` / ``end``) and emits decoded text pieces."""

    def __init__(self, tokenizer: Any, emit: Callable[[str], None]) -> None:
        self.tokenizer = tokenizer
        self.emit = emit
        self.tokens: list[int] = []
        self.printed = 0
        self.skip_prompt = True

    def put(self, value: Any) -> None:
        if self.skip_prompt:  # the first call carries the prompt
            self.skip_prompt = False
            return
        self.tokens.extend(value.flatten().tolist())
        text = self.tokenizer.decode(self.tokens, skip_special_tokens=True)
        if not text.endswith("\ufffd"):  # wait for the rest of a multi-byte character
            self.emit(text[self.printed :])
            self.printed = len(text)

    def end(self) -> None:
        text = self.tokenizer.decode(self.tokens, skip_special_tokens=True)
        if len(text) > self.printed:
            self.emit(text[self.printed :])
        self.printed = len(text)


# -- registry of tasks ---------------------------------------------------------------------------

_TASK_CLASSES: dict[str, type[Task]] = {
    task.name: task
    for task in (
        TokenClassification,
        TextClassification,
        FillMask,
        FeatureExtraction,
        QuestionAnswering,
        TextGeneration,
        Text2TextGeneration,
        Summarization,
        Translation,
    )
}
#: Image and audio tasks, defined in :mod:`autohub_core.media_tasks` (imported on first use).
_MEDIA_TASKS = {
    "image-classification": "ImageClassification",
    "zero-shot-image-classification": "ZeroShotImageClassification",
    "automatic-speech-recognition": "AutomaticSpeechRecognition",
    "audio-classification": "AudioClassification",
}
TASK_NAMES = (*_TASK_CLASSES, *_MEDIA_TASKS)


def load_task(
    name_or_path: str | os.PathLike,
    task: str,
    *,
    device: str | None = None,
    dtype: str | None = None,
    **hub_options: Any,
) -> Task:
    """Load ``name_or_path`` for ``task`` (one of :data:`TASK_NAMES`)."""
    task_class = _TASK_CLASSES.get(task)
    if task in _MEDIA_TASKS:
        from autohub_core import media_tasks

        task_class = getattr(media_tasks, _MEDIA_TASKS[task])
    if task_class is None:
        raise InputError(f"unknown task {task!r}; choose one of {', '.join(TASK_NAMES)}")
    return task_class.from_pretrained(name_or_path, device=device, dtype=dtype, **hub_options)
