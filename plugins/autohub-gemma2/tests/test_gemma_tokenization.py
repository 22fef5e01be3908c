"""GemmaTokenizer against transformers' GemmaTokenizer, from tokenizer.model and from tokenizer.json.

The tokenizer.model is trained here with SentencePiece's trainer on the shared test corpus, laid
out as Gemma's (BPE with byte fallback, identity normalisation, spaces kept, no dummy prefix;
``<pad>`` 0, ``<eos>`` 1, ``<bos>`` 2, ``<unk>`` 3, user-defined ``<mask>``, ``[multimodal]``,
``<start_of_turn>``, ``<end_of_turn>``). Checkpoint shapes: the model alone with the Hub's
tokenizer_config.json (gemma-2-2b-it's, chat template included), the model without a config, the
Hub's tokenizer.json (what transformers' ``GemmaConverter`` writes, with the ``<bos>`` template)
next to the model, and the tokenizer.json transformers' ``save_pretrained`` writes.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import sentencepiece
import transformers
from tokenizers import processors
from tokenizers.models import BPE

from autohub_core import AutoTokenizer
from autohub_core.errors import TokenizerError
from autohub_gemma2.tokenization import GemmaTokenizer

sys.path.insert(0, str(Path(__file__).parents[3] / "tests"))  # the repository's shared test helpers
from test_tokenizers_alignment import TEXTS as ALIGNMENT_TEXTS
from tokenizer_shapes import corpus

transformers.logging.set_verbosity_error()

TURN_TOKENS = ["<start_of_turn>", "<end_of_turn>"]
#: gemma-2-2b-it's chat template.
CHAT_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}"
    "{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
)
SPECIALS = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3}
#: gemma-2-2b-it's tokenizer_config.json, its added_tokens_decoder cut to the pieces trained here.
HUB_CONFIG = {
    "add_bos_token": True,
    "add_eos_token": False,
    "additional_special_tokens": TURN_TOKENS,
    "bos_token": "<bos>",
    "chat_template": CHAT_TEMPLATE,
    "clean_up_tokenization_spaces": False,
    "eos_token": "<eos>",
    "model_max_length": 1000000000000000019884624838656,
    "pad_token": "<pad>",
    "sp_model_kwargs": {},
    "spaces_between_special_tokens": False,
    "tokenizer_class": "GemmaTokenizer",
    "unk_token": "<unk>",
    "use_default_system_prompt": False,
}
TEXTS = [
    *ALIGNMENT_TEXTS,
    *corpus()[:40],
    "<start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n",
    "literal <bos> <eos> <pad> <unk> <mask> [multimodal] inside",
    "  \t\t  tabs  and   spaces\n\n\nlines",
    "ÀÉÎÕÜ ß ﬁ ① ｆｕｌｌ width ▁already▁meta spaced",
]
CONVERSATIONS = [
    [{"role": "user", "content": "Hello  there! "}],
    [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": " 4. "},
        {"role": "user", "content": "東京 🙂"},
    ],
]


def _added_token(content: str, special: bool) -> dict[str, Any]:
    return {
        "content": content,
        "lstrip": False,
        "normalized": False,
        "rstrip": False,
        "single_word": False,
        "special": special,
    }


def _hub_tokenizer_json(model_path: Path, destination: Path) -> None:
    """tokenizer.json as transformers' ``GemmaConverter`` writes it, with the Hub's ``<bos>`` template.

    In transformers 5.23 the converter's BPE branch calls the piece extractor with transformers 4's
    signature, which is adapted here.
    """
    from transformers.convert_slow_tokenizer import GemmaConverter, SentencePieceExtractor

    class Extractor(SentencePieceExtractor):
        def extract(self, vocab_scores: Any = None) -> tuple[dict[str, int], list[tuple[str, str]]]:
            extracted = super().extract(BPE)
            return extracted["vocab"], extracted["merges"]

    class Converter(GemmaConverter):
        SpmExtractor = Extractor

    class SlowTokenizer:
        vocab_file = str(model_path)
        pad_token, eos_token, bos_token = "<pad>", "<eos>", "<bos>"

    tokenizer = Converter(SlowTokenizer()).converted()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<bos>:0 $A:0", pair="<bos>:0 $A:0 <bos>:1 $B:1", special_tokens=[("<bos>", 2)]
    )
    tokenizer.save(str(destination))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("gemma-tokenizer")
    (root / "corpus.txt").write_text("\n".join(corpus()), encoding="utf-8")
    sentencepiece.SentencePieceTrainer.train(
        input=str(root / "corpus.txt"),
        model_prefix=str(root / "tokenizer"),
        model_type="bpe",
        vocab_size=500,
        hard_vocab_limit=False,
        character_coverage=1.0,
        byte_fallback=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=False,
        split_digits=True,
        allow_whitespace_only_pieces=True,
        pad_id=0,
        eos_id=1,
        bos_id=2,
        unk_id=3,
        pad_piece="<pad>",
        eos_piece="<eos>",
        bos_piece="<bos>",
        user_defined_symbols=["<mask>", "[multimodal]", *TURN_TOKENS],
        minloglevel=2,
    )
    processor = sentencepiece.SentencePieceProcessor(model_file=str(root / "tokenizer.model"))
    added = {
        str(index): _added_token(piece, special=True)
        for piece in ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "[multimodal]", *TURN_TOKENS]
        for index in [processor.piece_to_id(piece)]
    }
    hub_config = {**HUB_CONFIG, "added_tokens_decoder": added}
    directories = {}
    for name, config, with_json in (
        ("model", hub_config, False),
        ("model-no-config", None, False),
        ("json", hub_config, True),
    ):
        directory = root / name
        directory.mkdir()
        shutil.copy(root / "tokenizer.model", directory / "tokenizer.model")
        (directory / "config.json").write_text(json.dumps({"model_type": "gemma2"}))
        if config is not None:
            (directory / "tokenizer_config.json").write_text(json.dumps(config))
        if with_json:
            _hub_tokenizer_json(directory / "tokenizer.model", directory / "tokenizer.json")
        directories[name] = directory
    saved = root / "json-saved"
    transformers.AutoTokenizer.from_pretrained(directories["model"]).save_pretrained(saved)
    (saved / "tokenizer.model").unlink(missing_ok=True)
    (saved / "config.json").write_text(json.dumps({"model_type": "gemma2"}))
    directories["json-saved"] = saved
    return directories


SHAPES = ["model", "model-no-config", "json", "json-saved"]


@pytest.fixture(scope="module", params=SHAPES)
def tokenizers_pair(request: pytest.FixtureRequest, files: dict[str, Path]) -> tuple[Any, Any]:
    directory = files[request.param]
    reference = transformers.AutoTokenizer.from_pretrained(directory)
    ours = AutoTokenizer.from_pretrained(directory)
    assert type(reference).__name__ == "GemmaTokenizer" and type(ours) is GemmaTokenizer
    return reference, ours


def _snapshot(tokenizer: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Everything an encoding says: values, tokens and word / sequence ids of every row."""
    encoding = tokenizer(
        *args,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
        **kwargs,
    )
    values = {key: [list(map(tuple, row)) if key == "offset_mapping" else row for row in value]
              for key, value in encoding.items()}  # fmt: skip
    rows = range(len(encoding["input_ids"]))
    values["tokens"] = [encoding.tokens(row) for row in rows]
    values["word_ids"] = [encoding.word_ids(row) for row in rows]
    values["sequence_ids"] = [encoding.sequence_ids(row) for row in rows]
    return values


def test_vocabulary_and_special_tokens(tokenizers_pair: tuple[Any, Any]) -> None:
    reference, ours = tokenizers_pair
    assert ours.get_vocab() == reference.get_vocab()
    assert {key: str(value) for key, value in ours.special_tokens_map.items()} == {
        key: str(value) for key, value in reference.special_tokens_map.items()
    }
    assert sorted(ours.all_special_ids) == sorted(reference.all_special_ids)
    ids = (ours.pad_token_id, ours.eos_token_id, ours.bos_token_id, ours.unk_token_id)
    assert ids == (
        reference.pad_token_id,
        reference.eos_token_id,
        reference.bos_token_id,
        reference.unk_token_id,
    )
    assert ids == tuple(SPECIALS.values())
    assert ours.padding_side == reference.padding_side == "left"


def test_texts_match(tokenizers_pair: tuple[Any, Any]) -> None:
    """Ids (``<bos>`` first, no eos), offsets, tokens and decoding of each text, alone and padded."""
    reference, ours = tokenizers_pair
    for text in TEXTS:
        assert _snapshot(ours, [text]) == _snapshot(reference, [text]), text
        ids = ours(text)["input_ids"]
        if not ours.name_or_path.endswith("no-config"):  # without a config neither library adds <bos>
            assert ids[0] == SPECIALS["<bos>"] and ids[-1] != SPECIALS["<eos>"]
        for skip in (False, True):
            assert ours.decode(ids, skip_special_tokens=skip) == reference.decode(
                ids, skip_special_tokens=skip
            ), (text, skip)
        assert ours.tokenize(text) == reference.tokenize(text)
    assert _snapshot(ours, TEXTS, padding=True) == _snapshot(reference, TEXTS, padding=True)
    pairs = (TEXTS[5:9], TEXTS[9:13])
    assert _snapshot(ours, *pairs, padding=True) == _snapshot(reference, *pairs, padding=True)


def test_byte_fallback_round_trips(tokenizers_pair: tuple[Any, Any]) -> None:
    """Characters the vocabulary lacks become byte pieces and decode back to the text."""
    reference, ours = tokenizers_pair
    text = "Ωmega ☃ snow 𝔘nicode"
    tokens = ours.tokenize(text)
    assert "<0xE2>" in tokens and "<unk>" not in tokens
    assert ours.decode(ours(text)["input_ids"], skip_special_tokens=True) == text
    assert tokens == reference.tokenize(text)


@pytest.mark.parametrize("shape", ["model", "json"])
def test_chat_template_matches(files: dict[str, Path], shape: str) -> None:
    """gemma-2-2b-it's template: ``assistant`` renders as ``model``, the generation prompt, no system role."""
    reference = transformers.AutoTokenizer.from_pretrained(files[shape])
    ours = AutoTokenizer.from_pretrained(files[shape])
    for conversation in CONVERSATIONS:
        text = ours.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
        assert text == reference.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
        assert text.startswith("<bos><start_of_turn>user\n") and text.endswith("<start_of_turn>model\n")
        ids = ours.apply_chat_template(conversation, add_generation_prompt=True, return_dict=False)
        assert ids == reference.apply_chat_template(
            conversation, add_generation_prompt=True, return_dict=False
        )
        assert ids.count(SPECIALS["<bos>"]) == 1
    assert (
        "<start_of_turn>model\n 4.<end_of_turn>" not in text
        and "<start_of_turn>model\n4.<end_of_turn>" in text
    )
    system = [{"role": "system", "content": "be brief"}, *CONVERSATIONS[0]]
    with pytest.raises(TokenizerError, match="System role not supported"):
        ours.apply_chat_template(system, tokenize=False)


def test_saved_tokenizer_loads_in_transformers(files: dict[str, Path], tmp_path: Path) -> None:
    """autohub saves, transformers (and autohub) load the same tokenizer back."""
    ours = AutoTokenizer.from_pretrained(files["model"])
    ours.save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gemma2"}))
    reloaded = transformers.AutoTokenizer.from_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert type(reloaded).__name__ == "GemmaTokenizer" and type(again) is GemmaTokenizer
    for text in TEXTS[::3]:
        assert _snapshot(reloaded, [text]) == _snapshot(ours, [text]) == _snapshot(again, [text]), text
    assert reloaded.apply_chat_template(CONVERSATIONS[1], tokenize=False) == again.apply_chat_template(
        CONVERSATIONS[1], tokenize=False
    )


@pytest.mark.parametrize("shape", ["model", "json"])
def test_add_eos_token_option(files: dict[str, Path], shape: str) -> None:
    """``add_eos_token=True`` (and ``add_bos_token=False``) rebuild the template as transformers does."""
    for options in ({"add_eos_token": True}, {"add_bos_token": False}):
        reference = transformers.AutoTokenizer.from_pretrained(files[shape], **options)
        ours = AutoTokenizer.from_pretrained(files[shape], **options)
        for text in TEXTS[5:8]:
            assert ours(text)["input_ids"] == reference(text)["input_ids"], (options, text)
