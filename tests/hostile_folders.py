"""A catalogue of hostile checkpoint folders, each built from a valid tiny checkpoint saved by autohub.

Two bases are saved once per session with autohub itself (no transformers): ``bert`` (a
masked-LM with a WordPiece tokenizer) and ``llama`` (a causal LM with a word-level
tokenizer.json, a chat template and a generation_config.json). Each :class:`Shape` copies its
base and breaks one thing the way a hostile or damaged download would: config.json,
model.safetensors, the sharded index, tokenizer files, generation_config.json, or the folder
layout. :func:`build` materialises a shape; :func:`build_stacked` breaks several files at once.

Whatever the shape, autohub's public entry points must answer with success or an
``AutohubError``; shapes marked ``must_refuse`` must be refused by at least one of them (a
model that loads "fine" from them is a silent failure).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import struct
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WORDS = [
    "hello", "world", "the", "dog", "runs", "fast", "a", "cat", "eats", "food", "good", "movie",
    "user", "assistant", "system", ":", "?", "!", ".", ",",
]  # fmt: skip
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LLAMA_SPECIALS = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }} {{ message['content'] }}<|im_end|>"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant{% endif %}"
)
MESSAGES = [{"role": "user", "content": "hello world"}, {"role": "assistant", "content": "the dog runs"}]
TEXTS = ["hello world", "the dog runs fast", "hello" * 600]  # the long word backtracks hostile regexes
DEEP = 100_000  # nesting levels of the "deeply nested" documents (Python's json needs recursion)


@dataclass(frozen=True)
class Shape:
    """One hostile folder: ``base`` copied, then ``breaks`` applied to the copy."""

    name: str
    base: str
    """``"bert"`` or ``"llama"``: the valid checkpoint the folder starts from."""
    file: str
    """The file (or ``"layout"``) the shape breaks: shapes breaking different files can be stacked."""
    breaks: Callable[[Path], None]
    must_refuse: bool = True
    """Some entry point must raise (False where loading may legitimately succeed, e.g. extra keys)."""


CATALOGUE: dict[str, Shape] = {}


def shape(name: str, base: str, file: str, *, must_refuse: bool = True) -> Callable:
    """Register the decorated function as the shape ``name``."""

    def register(breaks: Callable[[Path], None]) -> Callable[[Path], None]:
        assert name not in CATALOGUE, name
        CATALOGUE[name] = Shape(name, base, file, breaks, must_refuse)
        return breaks

    return register


# -- the valid bases ------------------------------------------------------------------------------

TINY_BERT = {
    "vocab_size": len(BERT_SPECIALS) + len(WORDS),
    "hidden_size": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 20,
    "max_position_embeddings": 32,
    "pad_token_id": 0,
}
TINY_LLAMA = {
    "vocab_size": len(LLAMA_SPECIALS) + len(WORDS),
    "hidden_size": 16,
    "intermediate_size": 24,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "max_position_embeddings": 32,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "pad_token_id": 2,
}


def save_bases(root: Path) -> dict[str, Path]:
    """Save the valid ``bert`` and ``llama`` checkpoints under ``root`` (autohub only)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers

    from autohub_core import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer
    from autohub_core.generation import GenerationConfig

    torch.manual_seed(0)
    bert = root / "bert"
    AutoModelForMaskedLM.from_config(AutoConfig.for_model("bert", **TINY_BERT)).save_pretrained(bert)
    (bert / "vocab.txt").write_text("\n".join([*BERT_SPECIALS, *WORDS]) + "\n", encoding="utf-8")
    AutoTokenizer.from_pretrained(bert).save_pretrained(bert)

    llama = root / "llama"
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model("llama", **TINY_LLAMA))
    model.save_pretrained(llama)
    GenerationConfig(bos_token_id=1, eos_token_id=2, pad_token_id=2, max_new_tokens=4).save_pretrained(llama)
    vocab = {token: index for index, token in enumerate([*LLAMA_SPECIALS, *WORDS])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.add_special_tokens(LLAMA_SPECIALS)
    backend.save(str(llama / "tokenizer.json"))
    tokenizer_config = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "</s>",
        "model_max_length": 32,
        "chat_template": CHATML,
    }
    (llama / "tokenizer_config.json").write_text(json.dumps(tokenizer_config), encoding="utf-8")
    return {"bert": bert, "llama": llama}


def build(name: str, bases: dict[str, Path], target: Path) -> Path:
    """Materialise the shape ``name`` as the folder ``target`` (a fresh copy of its base)."""
    return build_stacked([name], bases, target)


def build_stacked(names: Iterable[str], bases: dict[str, Path], target: Path) -> Path:
    """A copy of the shapes' common base with every shape's break applied, in order."""
    shapes = [CATALOGUE[name] for name in names]
    (base,) = {item.base for item in shapes}
    shutil.copytree(bases[base], target, symlinks=True)
    for item in shapes:
        item.breaks(target)
    return target


# -- helpers ---------------------------------------------------------------------------------------


def _edit_json(path: Path, **changes: Any) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is _DELETE:
            document.pop(key, None)
        else:
            document[key] = value
    path.write_text(json.dumps(document), encoding="utf-8")


_DELETE = object()


def _config(**changes: Any) -> Callable[[Path], None]:
    return lambda folder: _edit_json(folder / "config.json", **changes)


def _tokenizer_config(**changes: Any) -> Callable[[Path], None]:
    return lambda folder: _edit_json(folder / "tokenizer_config.json", **changes)


def _generation(**changes: Any) -> Callable[[Path], None]:
    return lambda folder: _edit_json(folder / "generation_config.json", **changes)


def _write(name: str, content: str | bytes) -> Callable[[Path], None]:
    def breaks(folder: Path) -> None:
        path = folder / name
        path.unlink(missing_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")

    return breaks


def _remove(*names: str) -> Callable[[Path], None]:
    def breaks(folder: Path) -> None:
        for name in names:
            (folder / name).unlink(missing_ok=True)

    return breaks


def _nested(depth: int, leaf: str = "1") -> str:
    return '{"a":' * depth + leaf + "}" * depth


def _split_safetensors(path: Path) -> tuple[dict[str, Any], bytes]:
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + length]), raw[8 + length :]


def _join_safetensors(path: Path, header: dict[str, Any], data: bytes) -> None:
    encoded = json.dumps(header).encode()
    path.unlink()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + data)


def _weights(edit: Callable[[dict[str, Any], bytes], tuple[dict[str, Any], bytes]]) -> Callable[[Path], None]:
    def breaks(folder: Path) -> None:
        path = folder / "model.safetensors"
        header, data = edit(*_split_safetensors(path))
        _join_safetensors(path, header, data)

    return breaks


def _tensor_names(header: dict[str, Any]) -> list[str]:
    return sorted(name for name in header if name != "__metadata__")


def _replace_with_directory(name: str) -> Callable[[Path], None]:
    def breaks(folder: Path) -> None:
        (folder / name).unlink()
        (folder / name).mkdir()

    return breaks


def _symlink_loop(name: str) -> Callable[[Path], None]:
    def breaks(folder: Path) -> None:
        (folder / name).unlink()
        (folder / name).symlink_to(folder / f"{name}.loop")
        (folder / f"{name}.loop").symlink_to(folder / name)

    return breaks


def _tokenizer_json(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def breaks(folder: Path) -> None:
        path = folder / "tokenizer.json"
        document = json.loads(path.read_text(encoding="utf-8"))
        edit(document)
        path.write_text(json.dumps(document), encoding="utf-8")

    return breaks


# -- layout ----------------------------------------------------------------------------------------


@shape("empty-folder", "bert", "layout")
def _empty_folder(folder: Path) -> None:
    for child in folder.iterdir():
        child.unlink()


@shape("folder-is-a-file", "bert", "layout")
def _folder_is_a_file(folder: Path) -> None:
    shutil.rmtree(folder)
    folder.write_text("a file where the checkpoint folder should be", encoding="utf-8")


@shape("folder-symlink-loop", "bert", "layout")
def _folder_symlink_loop(folder: Path) -> None:
    shutil.rmtree(folder)
    folder.symlink_to(folder)


shape("no-config", "bert", "config.json")(_remove("config.json"))
shape("config-is-a-folder", "bert", "config.json")(_replace_with_directory("config.json"))
shape("config-symlink-loop", "bert", "config.json")(_symlink_loop("config.json"))

# -- config.json -----------------------------------------------------------------------------------

shape("config-not-json", "bert", "config.json")(_write("config.json", "{not json"))
shape("config-empty-file", "bert", "config.json")(_write("config.json", ""))
shape("config-not-utf8", "bert", "config.json")(_write("config.json", b"\xff\xfe{\x00}"))
shape("config-a-list", "bert", "config.json")(_write("config.json", "[1, 2]"))
shape("config-deeply-nested", "bert", "config.json")(
    _write("config.json", '{"model_type": "bert", "extra": ' + _nested(DEEP) + "}")
)
shape("config-nested-in-limit", "bert", "config.json", must_refuse=False)(
    _config(extra=json.loads(_nested(40)))
)


@shape("config-oversized", "bert", "config.json")
def _config_oversized(folder: Path) -> None:
    with (folder / "config.json").open("r+b") as file:  # sparse: over max_json_bytes, nothing written
        file.truncate(65 * 1024 * 1024)


shape("model-type-unknown", "bert", "config.json")(_config(model_type="nonesuch"))
shape("model-type-missing", "bert", "config.json")(_config(model_type=_DELETE))
shape("model-type-int", "bert", "config.json")(_config(model_type=42))
shape("num-labels-huge", "bert", "config.json")(_config(num_labels=10**9, id2label=_DELETE, label2id=_DELETE))
shape("num-labels-string", "bert", "config.json")(_config(num_labels="2", id2label=_DELETE, label2id=_DELETE))
shape("id2label-huge-key", "bert", "config.json")(_config(id2label={str(10**9): "X"}))
shape("id2label-list", "bert", "config.json")(_config(id2label=["a", "b"]))
shape("bert-vocab-size-string", "bert", "config.json")(_config(vocab_size="99"))
shape("bert-layers-negative", "bert", "config.json")(_config(num_hidden_layers=-1))
shape("bert-layer-norm-eps-null", "bert", "config.json")(_config(layer_norm_eps=None))
shape("bert-hidden-act-int", "bert", "config.json")(_config(hidden_act=3))
shape("bert-position-type-bogus", "bert", "config.json")(_config(position_embedding_type="nope"))
shape("bert-type-vocab-zero", "bert", "config.json")(_config(type_vocab_size=0))
shape("bert-heads-not-dividing", "bert", "config.json")(_config(num_attention_heads=3))
shape("bert-hidden-huge", "bert", "config.json")(_config(hidden_size=2**40, num_attention_heads=1))
shape("llama-rope-theta-string", "llama", "config.json")(_config(rope_theta="10000"))
shape("llama-rope-factor-string", "llama", "config.json")(
    _config(rope_scaling={"rope_type": "linear", "factor": "2"})
)
shape("llama-llama3-rope-no-factor", "llama", "config.json")(
    _config(rope_scaling={"rope_type": "llama3", "low_freq_factor": 1.0, "high_freq_factor": 4.0})
)
shape("llama-rope-parameters-list", "llama", "config.json")(_config(rope_parameters=[1, 2]))
shape("llama-rms-norm-eps-null", "llama", "config.json")(_config(rms_norm_eps=None))
shape("llama-rms-norm-eps-negative", "llama", "config.json")(_config(rms_norm_eps=-1.0))
shape("llama-rms-norm-eps-string", "llama", "config.json")(_config(rms_norm_eps="1e-6"))
shape("llama-vocab-size-string", "llama", "config.json")(_config(vocab_size="29"))
shape("llama-layers-negative", "llama", "config.json")(_config(num_hidden_layers=-1))
shape("llama-hidden-size-zero", "llama", "config.json")(_config(hidden_size=0))
shape("llama-kv-heads-not-dividing", "llama", "config.json")(_config(num_key_value_heads=3))
shape("llama-head-dim-string", "llama", "config.json")(_config(head_dim="8"))
shape("llama-hidden-act-bogus", "llama", "config.json")(_config(hidden_act="nope"))
shape("llama-dtype-bogus", "llama", "config.json")(_config(dtype="float13", torch_dtype="float13"))
shape("llama-max-positions-zero", "llama", "config.json")(_config(max_position_embeddings=0))
shape("llama-tie-embeddings-string", "llama", "config.json")(_config(tie_word_embeddings="yes"))
shape("llama-eos-outside-vocab", "llama", "config.json", must_refuse=False)(_config(eos_token_id=10**6))
shape("llama-pad-negative", "llama", "config.json", must_refuse=False)(_config(pad_token_id=-5))

# -- model.safetensors -----------------------------------------------------------------------------

shape("weights-missing", "bert", "model.safetensors")(_remove("model.safetensors"))
shape("weights-is-a-folder", "bert", "model.safetensors")(_replace_with_directory("model.safetensors"))
shape("weights-symlink-loop", "bert", "model.safetensors")(_symlink_loop("model.safetensors"))
shape("weights-empty-file", "bert", "model.safetensors")(_write("model.safetensors", b""))
shape("weights-empty-header", "llama", "model.safetensors")(_weights(lambda header, data: ({}, b"")))
shape("weights-metadata-only", "bert", "model.safetensors")(
    _weights(lambda header, data: ({"__metadata__": {"format": "pt"}}, b""))
)
shape("weights-huge-header-length", "bert", "model.safetensors")(
    _write("model.safetensors", (2**62).to_bytes(8, "little") + b"{}")
)


@shape("weights-truncated", "llama", "model.safetensors")
def _weights_truncated(folder: Path) -> None:
    path = folder / "model.safetensors"
    raw = path.read_bytes()
    path.unlink()
    path.write_bytes(raw[: len(raw) // 2])


def _wrong_dtype(header: dict[str, Any], data: bytes) -> tuple[dict[str, Any], bytes]:
    for name in _tensor_names(header):
        header[name]["dtype"] = "I32"  # same width, integer weights
    return header, data


def _shape_mismatch(header: dict[str, Any], data: bytes) -> tuple[dict[str, Any], bytes]:
    for name in _tensor_names(header):
        if len(header[name]["shape"]) == 2 and header[name]["shape"][0] != header[name]["shape"][1]:
            header[name]["shape"] = list(reversed(header[name]["shape"]))  # same size, wrong shape
    return header, data


def _extra_keys(header: dict[str, Any], data: bytes) -> tuple[dict[str, Any], bytes]:
    header["evil.weight"] = {"dtype": "F32", "shape": [2], "data_offsets": [len(data), len(data) + 8]}
    return header, data + b"\x00" * 8


def _renamed_keys(header: dict[str, Any], data: bytes) -> tuple[dict[str, Any], bytes]:
    return {f"other.{name}" if name != "__metadata__" else name: v for name, v in header.items()}, data


def _overlapping(header: dict[str, Any], data: bytes) -> tuple[dict[str, Any], bytes]:
    names = _tensor_names(header)
    header[names[0]]["data_offsets"] = [0, len(data) + 4096]
    return header, data


shape("weights-wrong-dtype", "llama", "model.safetensors", must_refuse=False)(_weights(_wrong_dtype))
shape("weights-shape-mismatch", "llama", "model.safetensors")(_weights(_shape_mismatch))
shape("weights-extra-keys", "llama", "model.safetensors", must_refuse=False)(_weights(_extra_keys))
shape("weights-no-matching-key", "bert", "model.safetensors")(_weights(_renamed_keys))
shape("weights-offsets-past-end", "bert", "model.safetensors")(_weights(_overlapping))

# -- the sharded index -----------------------------------------------------------------------------


def _index(
    weight_map: Any, *, keep_single: bool = False, extra: Callable[[Path], None] | None = None
) -> Callable:
    def breaks(folder: Path) -> None:
        if not keep_single:
            (folder / "model.safetensors").unlink()
        (folder / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {}, "weight_map": weight_map}), encoding="utf-8"
        )
        if extra is not None:
            extra(folder)

    return breaks


_INDEX_REPLACES_WEIGHTS = "model.safetensors"  # the index shapes delete it: not stackable with weights shapes


def _bert_key_map(shard: str) -> dict[str, str]:
    return {"bert.embeddings.word_embeddings.weight": shard, "cls.predictions.bias": shard}


def _pickle_shard(folder: Path) -> None:
    (folder / "pytorch_model-00001-of-00001.bin").write_bytes(
        b"\x80\x04\x95\x1a\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x8c\x06system\x93\x8c\x04true\x85R."
    )


shape("index-missing-shard", "bert", _INDEX_REPLACES_WEIGHTS)(
    _index(_bert_key_map("model-00001-of-00002.safetensors"))
)
shape("index-names-bin", "bert", _INDEX_REPLACES_WEIGHTS)(
    _index(_bert_key_map("pytorch_model-00001-of-00001.bin"), extra=_pickle_shard)
)
shape("index-escapes-folder", "bert", _INDEX_REPLACES_WEIGHTS)(
    _index(_bert_key_map("../llama/model.safetensors"))
)
shape("index-weight-map-list", "bert", _INDEX_REPLACES_WEIGHTS)(_index(["model.safetensors"]))
shape("index-deeply-nested", "bert", _INDEX_REPLACES_WEIGHTS)(
    lambda folder: (
        (folder / "model.safetensors").unlink()
        or (folder / "model.safetensors.index.json").write_text(
            '{"weight_map": ' + _nested(DEEP, '"x.safetensors"') + "}", encoding="utf-8"
        )
    )
)
shape("index-not-json", "bert", _INDEX_REPLACES_WEIGHTS)(
    lambda folder: (
        (folder / "model.safetensors").unlink()
        or (folder / "model.safetensors.index.json").write_text("{", encoding="utf-8")
    )
)

# -- tokenizer files -------------------------------------------------------------------------------

shape("tokenizer-missing", "llama", "tokenizer.json")(_remove("tokenizer.json"))
shape("tokenizer-json-corrupt", "llama", "tokenizer.json")(_write("tokenizer.json", '{"model": 3'))
shape("tokenizer-json-not-utf8", "bert", "tokenizer.json")(_write("tokenizer.json", b"\xff\xfe\x00"))
shape("tokenizer-json-deeply-nested", "llama", "tokenizer.json")(
    _write("tokenizer.json", '{"version": "1.0", "model": ' + _nested(DEEP) + "}")
)
shape("tokenizer-json-is-a-folder", "llama", "tokenizer.json")(_replace_with_directory("tokenizer.json"))
shape("tokenizer-json-model-a-list", "llama", "tokenizer.json")(
    _tokenizer_json(lambda document: document.update(model=[1, 2]))
)
shape("tokenizer-split-regex", "llama", "tokenizer.json")(
    _tokenizer_json(
        lambda document: document.update(
            pre_tokenizer={
                "type": "Split",
                "pattern": {"Regex": "([a-z]|[a-z][a-z])+\\d"},
                "behavior": "Isolated",
                "invert": False,
            }
        )
    )
)
shape("tokenizer-vocab-ids-negative", "llama", "tokenizer.json")(
    _tokenizer_json(lambda document: document["model"]["vocab"].update(hello=-7))
)
shape("tokenizer-config-not-json", "llama", "tokenizer_config.json")(_write("tokenizer_config.json", "]"))
shape("tokenizer-config-deeply-nested", "llama", "tokenizer_config.json")(
    _write("tokenizer_config.json", '{"unk_token": ' + _nested(DEEP, '"<unk>"') + "}")
)
shape("model-max-length-infinity", "llama", "tokenizer_config.json", must_refuse=False)(
    _write("tokenizer_config.json", json.dumps({"model_max_length": float("inf"), "chat_template": CHATML}))
)
shape("model-max-length-negative", "llama", "tokenizer_config.json")(_tokenizer_config(model_max_length=-3))
shape("model-max-length-string", "bert", "tokenizer_config.json")(_tokenizer_config(model_max_length="long"))
shape("model-max-length-huge", "bert", "tokenizer_config.json", must_refuse=False)(
    _tokenizer_config(model_max_length=10**40)
)
shape("added-tokens-decoder-a-list", "llama", "tokenizer_config.json")(
    _tokenizer_config(added_tokens_decoder=["<s>"])
)
shape("added-tokens-decoder-bad-ids", "llama", "tokenizer_config.json")(
    _tokenizer_config(added_tokens_decoder={"x": {"content": "<s>"}, "-1": {"content": 3}})
)
shape("added-tokens-decoder-no-content", "bert", "tokenizer_config.json")(
    _tokenizer_config(added_tokens_decoder={"0": {"special": True}})
)
shape("special-token-an-int", "bert", "tokenizer_config.json")(_tokenizer_config(mask_token=7))
shape("special-tokens-map-nested", "bert", "special_tokens_map.json", must_refuse=False)(
    _write(
        "special_tokens_map.json", json.dumps({"mask_token": {"content": {"content": {"content": "[MASK]"}}}})
    )
)
shape("special-tokens-map-deeply-nested", "bert", "special_tokens_map.json", must_refuse=False)(
    _write("special_tokens_map.json", '{"mask_token": ' + _nested(DEEP, '"[MASK]"') + "}")
)
shape("special-tokens-map-a-list", "bert", "special_tokens_map.json", must_refuse=False)(
    _write("special_tokens_map.json", "[]")
)


@shape("vocab-txt-binary", "bert", "tokenizer.json")  # deletes tokenizer.json (the file it conflicts on)
def _vocab_txt_binary(folder: Path) -> None:
    (folder / "tokenizer.json").unlink()
    (folder / "vocab.txt").write_bytes(b"\xff\x00\xfe")


# -- chat templates (tokenizer_config.json's chat_template) ---------------------------------------

_TEMPLATES = {
    "chat-template-loops-forever": "{% for i in range(10**9) %}{% for j in range(10**9) %}x{% endfor %}{% endfor %}",
    "chat-template-nested-range": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "chat-template-multiplies-strings": "{{ 'a' * 10**10 }}",
    "chat-template-doubles-strings": "{% set s = namespace(v='ab') %}{% for i in range(64) %}"
    "{% set s.v = s.v ~ s.v %}{% endfor %}{{ s.v }}",
    "chat-template-huge-power": "{{ 10**100000000 }}",
    "chat-template-huge-format-width": "{{ '%999999999999s' | format('x') }}",
    "chat-template-syntax-error": "{% for message in messages %}{{ message['content'] }",
    "chat-template-unknown-filter": "{{ messages | no_such_filter }}",
    "chat-template-raises": "{{ raise_exception('refused by the template') }}",
    "chat-template-divides-by-zero": "{{ 1 // 0 }}",
    "chat-template-recursion": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "chat-template-dunder": "{{ messages.__class__.__mro__[1].__subclasses__() }}",
}
for _name, _template in _TEMPLATES.items():
    shape(_name, "llama", "tokenizer_config.json")(_tokenizer_config(chat_template=_template))
shape("chat-template-not-a-string", "llama", "tokenizer_config.json")(_tokenizer_config(chat_template=42))
shape("chat-template-list-malformed", "llama", "tokenizer_config.json")(
    _tokenizer_config(chat_template=[{"name": "default"}, 3])
)

# -- generation_config.json ------------------------------------------------------------------------

shape("generation-not-json", "llama", "generation_config.json")(_write("generation_config.json", "{"))
shape("generation-a-list", "llama", "generation_config.json")(_write("generation_config.json", "[]"))
shape("generation-deeply-nested", "llama", "generation_config.json")(
    _write("generation_config.json", '{"max_new_tokens": ' + _nested(DEEP) + "}")
)
shape("generation-wrong-types", "llama", "generation_config.json")(
    _generation(max_new_tokens="ten", do_sample="yes", temperature="hot")
)
shape("generation-max-new-tokens-huge", "llama", "generation_config.json")(_generation(max_new_tokens=10**9))
shape("generation-max-length-huge", "llama", "generation_config.json")(
    _generation(max_new_tokens=_DELETE, max_length=10**9)
)
shape("generation-max-new-tokens-float", "llama", "generation_config.json")(_generation(max_new_tokens=1e9))
shape("generation-negative", "llama", "generation_config.json")(
    _generation(max_new_tokens=-1, min_new_tokens=-5, repetition_penalty=-2.0)
)
shape("generation-nan-sampling", "llama", "generation_config.json")(
    _write("generation_config.json", '{"do_sample": true, "temperature": NaN, "top_p": NaN, "top_k": -1}')
)
shape("generation-token-ids-outside-vocab", "llama", "generation_config.json")(
    _generation(eos_token_id=10**6, bos_token_id=-3, pad_token_id=99999, decoder_start_token_id=[7, 10**9])
)
shape("generation-eos-a-string", "llama", "generation_config.json")(_generation(eos_token_id="</s>"))
shape("generation-nested-values", "llama", "generation_config.json")(
    _generation(max_new_tokens={"a": [1]}, num_beams=[2], early_stopping={"x": 1})
)
shape("generation-beams-huge", "llama", "generation_config.json")(
    _generation(num_beams=10**6, num_return_sequences=10**6)
)
shape("generation-is-a-folder", "llama", "generation_config.json")(
    _replace_with_directory("generation_config.json")
)


def names_for(base: str | None = None) -> list[str]:
    """The shape names, all or those built on ``base``."""
    return [name for name, item in CATALOGUE.items() if base is None or item.base == base]


def stackable(names: Iterable[str]) -> bool:
    """Whether the shapes can be applied to one folder: one shape, or shapes of one base each
    breaking a different file (none of them the layout)."""
    shapes = [CATALOGUE[name] for name in names]
    files = [item.file for item in shapes]
    if len(shapes) == 1:
        return True
    return (
        len({item.base for item in shapes}) == 1 and "layout" not in files and len(set(files)) == len(files)
    )


def materialise_all(bases: dict[str, Path], root: Path) -> dict[str, Path]:
    """Every shape built once under ``root`` (for read-only users such as the CLI fuzz)."""
    root.mkdir(parents=True, exist_ok=True)
    return {name: build(name, bases, root / name) for name in CATALOGUE}


# -- running entry points under guards -------------------------------------------------------------


class UnboundedWork(BaseException):
    """Raised by :func:`bounded` when a call runs past its time or memory allowance."""


@contextlib.contextmanager
def bounded(cpu_seconds: float = 10.0, extra_memory_bytes: int = 4 << 30) -> Iterator[None]:
    """Run the body under a CPU-time alarm and an address-space cap (Linux), so that a hostile
    input escaping autohub's own limits fails the test with :class:`UnboundedWork` (or a
    ``MemoryError``) instead of hanging CI or exhausting the machine's memory. CPU time, not
    wall time: a loaded CI machine slows a case down without failing it."""
    import resource
    import signal

    def expire(signum: int, frame: Any) -> None:
        raise UnboundedWork(f"still running after {cpu_seconds} s of CPU time")

    previous_handler = signal.signal(signal.SIGPROF, expire)
    global _baseline_address_space
    previous_limit = resource.getrlimit(resource.RLIMIT_AS)
    if _baseline_address_space is None:  # fixed once: what a leaking case keeps cannot raise the cap
        _baseline_address_space = _address_space_bytes()
    if _baseline_address_space is not None:
        soft, hard = _baseline_address_space + extra_memory_bytes, previous_limit[1]
        resource.setrlimit(
            resource.RLIMIT_AS, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard)
        )
    signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous_handler)
        resource.setrlimit(resource.RLIMIT_AS, previous_limit)


_baseline_address_space: int | None = None


def _address_space_bytes() -> int | None:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return None


def origin(error: BaseException) -> str:
    """Where ``error`` was raised: the innermost frame, and the innermost one in autohub's code."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename != __file__]
    if not frames:
        return "?"
    ours = [f for f in frames if "autohub" in f.filename and "/tests/" not in f.filename]
    inner = frames[-1]
    where = f"{Path(inner.filename).name}:{inner.lineno} in {inner.name}"
    if ours and ours[-1] is not inner:
        where += f" (from {Path(ours[-1].filename).name}:{ours[-1].lineno} in {ours[-1].name})"
    return where
