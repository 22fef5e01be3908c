"""Whisper's tokenizer: GPT-2's byte-level BPE plus Whisper's special and timestamp tokens.

As transformers 5's ``WhisperTokenizer``: a BPE model over the vocabulary and merges (of
tokenizer.json, or of vocab.json + merges.txt with the added tokens of tokenizer_config.json), a
``ByteLevel`` pre-tokenizer (``add_prefix_space``, default False) and decoder, and a template that
wraps every encoded text in the decoder prompt and ``<|endoftext|>``:
``<|startoftranscript|> [<|lang|>] [<|task|>] [<|notimestamps|>] text <|endoftext|>`` (the
``language``, ``task`` and ``predict_timestamps`` options; see :meth:`WhisperTokenizer.set_prefix_tokens`),
which is how labels for fine-tuning are built.

Decoding drops the timestamp tokens (``<|0.00|>`` ... ``<|30.00|>``) from the text unless
``decode_with_timestamps=True`` writes them in; ``output_offsets=True`` also returns the text of
each timestamped segment with its start and end times. The text normalizers (``normalize=``,
``basic_normalize=``) are not implemented.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from tokenizers import Tokenizer, decoders, pre_tokenizers, processors
from tokenizers.models import BPE

from autohub_core.errors import CheckpointNotFoundError, TokenizerError, UnsupportedFeatureError
from autohub_core.tokenization import PreTrainedTokenizer
from autohub_whisper.languages import LANGUAGES, TASKS, language_code

__all__ = ["WhisperTokenizer"]

_TIMESTAMP = re.compile(r"<\|(\d+\.\d+)\|>")


class WhisperTokenizer(PreTrainedTokenizer):
    """Whisper's byte-level BPE tokenizer; loads ``tokenizer.json`` or, without it, ``vocab.json`` +
    ``merges.txt`` (with the special and timestamp tokens of tokenizer_config.json).

    Options (tokenizer_config.json or keyword arguments): ``language`` (a code, name or alias),
    ``task`` (``"transcribe"`` / ``"translate"``), ``predict_timestamps`` (leave out
    ``<|notimestamps|>``), ``add_prefix_space``.
    """

    vocab_files_names: ClassVar[dict[str, str]] = {"vocab_file": "vocab.json", "merges_file": "merges.txt"}
    model_input_names: ClassVar[list[str]] = ["input_ids", "attention_mask"]
    default_special_tokens: ClassVar[dict[str, str]] = {
        "unk_token": "<|endoftext|>",
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
    }
    default_init_kwargs: ClassVar[dict[str, Any]] = {
        "add_prefix_space": False,
        "language": None,
        "task": None,
        "predict_timestamps": False,
    }

    @classmethod
    def _backend_from_legacy_files(cls, files: dict[str, Path], init_kwargs: dict[str, Any]) -> Tokenizer:
        """Byte-level BPE over vocab.json (token -> id) and merges.txt (one ``a b`` pair a line)."""
        for key, filename in cls.vocab_files_names.items():
            if key not in files:
                raise CheckpointNotFoundError(
                    f"WhisperTokenizer needs {filename} ({key}=) or a tokenizer.json"
                )
        try:
            vocab, merges = BPE.read_file(str(files["vocab_file"]), str(files["merges_file"]))
        except Exception as error:  # the Rust side raises plain Exception
            raise TokenizerError(
                f"cannot read {files['vocab_file']} / {files['merges_file']} as Whisper vocabulary files: {error}"
            ) from error
        return Tokenizer(
            BPE(
                vocab,
                merges,
                dropout=None,
                continuing_subword_prefix="",
                end_of_word_suffix="",
                fuse_unk=False,
            )
        )

    def _configure_backend(self, backend: Tokenizer) -> None:
        """transformers' pipeline: no normalizer, ByteLevel pre-tokenizer and decoder, the prompt template."""
        backend.normalizer = None
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(
            add_prefix_space=bool(self.init_kwargs["add_prefix_space"])
        )
        backend.decoder = decoders.ByteLevel()
        self.set_prefix_tokens()

    # -- the decoder prompt ---------------------------------------------------------------------

    @property
    def language(self) -> str | None:
        """The language of the prompt (``None``: no language token)."""
        return self.init_kwargs.get("language")

    @property
    def task(self) -> str | None:
        """The task of the prompt (``None``: no task token)."""
        return self.init_kwargs.get("task")

    @property
    def predict_timestamps(self) -> bool:
        """Whether the prompt leaves out ``<|notimestamps|>``."""
        return bool(self.init_kwargs.get("predict_timestamps"))

    def set_prefix_tokens(
        self, language: str | None = None, task: str | None = None, predict_timestamps: bool | None = None
    ) -> None:
        """Change the prompt added when encoding (``None`` keeps the current value), as transformers."""
        if language is not None:
            self.init_kwargs["language"] = language
        if task is not None:
            self.init_kwargs["task"] = task
        if predict_timestamps is not None:
            self.init_kwargs["predict_timestamps"] = predict_timestamps
        prefix_ids = self.prefix_tokens
        prefixes = [self.convert_ids_to_tokens(index) for index in prefix_ids]
        eos = str(self.eos_token)
        template = " ".join(f"{token}:0" for token in prefixes)
        with self._backend_lock:
            self._backend.post_processor = processors.TemplateProcessing(
                single=f"{template} $A:0 {eos}:0",
                pair=f"{template} $A:0 $B:1 {eos}:1",
                special_tokens=[(eos, self.eos_token_id), *zip(prefixes, prefix_ids, strict=True)],
            )

    def _required_id(self, token: str) -> int:
        index = self._backend.token_to_id(token)
        if index is None:
            raise TokenizerError(f"this Whisper vocabulary has no {token} token; its files are not Whisper's")
        return index

    @property
    def prefix_tokens(self) -> list[int]:
        """``<|startoftranscript|>``, then the language, task and ``<|notimestamps|>`` tokens the
        options ask for. The language token is ``<|startoftranscript|>`` + 1 + its index in Whisper's
        language list, as transformers computes it."""
        start = self._required_id("<|startoftranscript|>")
        tokens = [start]
        if self.language is not None:
            code = language_code(self.language)
            self.init_kwargs["language"] = self.language.lower()
            tokens.append(start + 1 + list(LANGUAGES).index(code))
        if self.task is not None:
            if self.task not in TASKS:
                raise TokenizerError(f"Unsupported task: {self.task}. Task should be in: {list(TASKS)}")
            tokens.append(self._required_id(f"<|{self.task}|>"))
        if not self.predict_timestamps:
            tokens.append(self._required_id("<|notimestamps|>"))
        return tokens

    def get_decoder_prompt_ids(
        self, task: str | None = None, language: str | None = None, no_timestamps: bool = True
    ) -> list[tuple[int, int]]:
        """The legacy ``forced_decoder_ids``: ``(position, token)`` for the prompt after
        ``<|startoftranscript|>``; sets the prefix tokens too, as transformers."""
        self.set_prefix_tokens(task=task, language=language, predict_timestamps=not no_timestamps)
        return [(rank + 1, token) for rank, token in enumerate(self.prefix_tokens[1:])]

    def get_prompt_ids(self, text: str, return_tensors: str | None = "np") -> Any:
        """``<|startofprev|>`` and the text of a previous-context prompt, as ids (no special token allowed)."""
        encoding = self("<|startofprev|>", " " + text.strip(), add_special_tokens=False)
        text_ids = encoding["input_ids"][1:]
        first_special = min(self.all_special_ids)
        special = next((index for index in text_ids if index >= first_special), None)
        if special is not None:
            raise TokenizerError(
                "Encountered text in the prompt corresponding to disallowed special token: "
                f"{self.convert_ids_to_tokens(special)}."
            )
        encoding.convert_to_tensors(return_tensors)
        return encoding["input_ids"]

    # -- decoding -------------------------------------------------------------------------------

    def _timestamp_begin(self) -> int:
        """The first timestamp token: the one after the last special token, as transformers."""
        return self.all_special_ids[-1] + 1

    def decode(  # type: ignore[override]
        self,
        token_ids: int | Sequence[int] | Sequence[Sequence[int]] | Any,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
        output_offsets: bool = False,
        time_precision: float = 0.02,
        decode_with_timestamps: bool = False,
        normalize: bool = False,
        basic_normalize: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Ids to text. ``skip_special_tokens`` also drops a ``<|startofprev|>`` prompt; timestamp tokens
        are removed from the text, or written as ``<|1.08|>`` with ``decode_with_timestamps``;
        ``output_offsets`` returns ``{"text", "offsets"}`` with each timestamped segment's times. A batch
        (list of lists, 2-D tensor) gives a list; as in transformers, its rows keep a ``<|startofprev|>``
        prompt and cannot have offsets."""
        if normalize or basic_normalize or kwargs.get("remove_diacritics"):
            raise UnsupportedFeatureError(
                "WhisperTokenizer.decode(normalize=True / basic_normalize=True) (Whisper's text normalizers) "
                "is not implemented by autohub-whisper"
            )
        token_ids = token_ids.tolist() if hasattr(token_ids, "tolist") else token_ids
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        options = {
            "skip_special_tokens": skip_special_tokens,
            "clean_up_tokenization_spaces": clean_up_tokenization_spaces,
            "output_offsets": output_offsets,
            "time_precision": time_precision,
            "decode_with_timestamps": decode_with_timestamps,
        }
        if token_ids and isinstance(token_ids[0], (list, tuple)):
            if output_offsets:
                raise TokenizerError(
                    "decode(output_offsets=True) takes one sequence at a time, as in transformers"
                )
            # As transformers: a batch keeps a <|startofprev|> prompt even with skip_special_tokens.
            return [self._decode_row([int(i) for i in row], False, **options) for row in token_ids]
        return self._decode_row([int(index) for index in token_ids], skip_special_tokens, **options)

    def _decode_row(
        self,
        token_ids: list[int],
        strip_prompt: bool,
        skip_special_tokens: bool,
        clean_up_tokenization_spaces: bool | None,
        output_offsets: bool,
        time_precision: float,
        decode_with_timestamps: bool,
    ) -> Any:
        filtered = self._strip_prompt(token_ids) if strip_prompt and skip_special_tokens else token_ids
        if decode_with_timestamps:
            text = self._decode_with_timestamps(filtered, skip_special_tokens, time_precision)
        else:
            text = _TIMESTAMP.sub(
                "", self._decode_one(filtered, skip_special_tokens, clean_up_tokenization_spaces)
            )
        if output_offsets:
            return {"text": text, "offsets": self._compute_offsets(token_ids, time_precision)}
        return text

    def batch_decode(self, sequences: Any, skip_special_tokens: bool = False, **kwargs: Any) -> list[Any]:  # type: ignore[override]
        """Decode each sequence of a batch (same options as :meth:`decode`, which decodes batches too)."""
        decoded = self.decode(sequences, skip_special_tokens, **kwargs)
        return [decoded] if isinstance(decoded, str) else decoded

    def _strip_prompt(self, token_ids: list[int]) -> list[int]:
        """Without a leading ``<|startofprev|>`` prompt: from ``<|startoftranscript|>`` on (nothing without it)."""
        if not token_ids or token_ids[0] != self._backend.token_to_id("<|startofprev|>"):
            return token_ids
        start = self._backend.token_to_id("<|startoftranscript|>")
        return token_ids[token_ids.index(start) :] if start in token_ids else []

    def _decode_with_timestamps(
        self, token_ids: list[int], skip_special_tokens: bool, time_precision: float
    ) -> str:
        """The text with each timestamp token written as ``<|t.tt|>`` (times continue across segments)."""
        timestamp_begin = self._timestamp_begin()
        outputs: list[Any] = [[]]
        cur_max_timestamp = 0.0
        prev_segments_len = 0.0
        penultimate_timestamp = 0.0
        for i, token in enumerate(token_ids):
            if token < timestamp_begin:
                outputs[-1].append(token)
                continue
            timestamp = float((token - timestamp_begin) * time_precision)
            if timestamp < cur_max_timestamp:  # the next segment has started
                last_was_single_ending = i >= 2 and not (
                    token_ids[i - 1] >= timestamp_begin and token_ids[i - 2] >= timestamp_begin
                )
                if last_was_single_ending:
                    prev_segments_len += time_precision * 1500
                else:
                    cur_max_timestamp = penultimate_timestamp
                    prev_segments_len += penultimate_timestamp
                    outputs = outputs[:-2]
            penultimate_timestamp = cur_max_timestamp
            cur_max_timestamp = timestamp
            outputs.append(f"<|{(timestamp + prev_segments_len):.2f}|>")
            outputs.append([])
        return "".join(
            part
            if isinstance(part, str)
            else (self._decode_one(part, skip_special_tokens, None) if part else "")
            for part in outputs
        )

    def _compute_offsets(self, token_ids: list[int], time_precision: float) -> list[dict[str, Any]]:
        """Each segment between consecutive timestamp tokens: its text and (start, end) seconds."""
        timestamp_begin = self._timestamp_begin()
        is_timestamp = [token >= timestamp_begin for token in token_ids]
        consecutive = [i + 1 for i in range(len(token_ids) - 1) if is_timestamp[i] and is_timestamp[i + 1]]
        positions = [i for i, flag in enumerate(is_timestamp) if flag]
        if not consecutive and len(positions) <= 1:
            return []
        if positions[-1] + 1 not in consecutive:
            consecutive.append(positions[-1] + 1)
        offsets = []
        last_slice = positions[0]
        cur_max_timestamp = 0
        prev_segments_len = 0
        for current_slice in consecutive:
            sliced = token_ids[last_slice:current_slice]
            if len(sliced) > 1:
                start = sliced[0] - timestamp_begin
                end = sliced[-1] - timestamp_begin
                if start < cur_max_timestamp:  # the next segment has started
                    is_single_ending = last_slice >= 2 and not (
                        token_ids[last_slice - 2] >= timestamp_begin
                        and token_ids[last_slice - 1] >= timestamp_begin
                    )
                    prev_segments_len += 1500 if is_single_ending else cur_max_timestamp
                cur_max_timestamp = end
                text = _TIMESTAMP.sub("", self._decode_one(sliced, False, None))
                offsets.append(
                    {
                        "text": text,
                        "timestamp": (
                            start * time_precision + prev_segments_len * time_precision,
                            end * time_precision + prev_segments_len * time_precision,
                        ),
                    }
                )
            last_slice = current_slice
        return offsets

    def timestamp_ids(self, time_precision: float = 0.02) -> list[int]:
        """The ids of ``<|0.00|>`` ... ``<|30.00|>`` (1501 tokens)."""
        return self.convert_tokens_to_ids([f"<|{i * time_precision:.2f}|>" for i in range(1501)])
