"""Gemma 3's tokenizer (autohub-gemma2's GemmaTokenizer, registered for ``gemma3_text``) and its chat
template against transformers.

The tokenizer.model is trained here with SentencePiece's trainer on the shared test corpus, laid
out as Gemma's (BPE with byte fallback, identity normalisation, no dummy prefix; ``<pad>`` 0,
``<eos>`` 1, ``<bos>`` 2, ``<unk>`` 3, then Gemma 3's user-defined turn and image tokens). Shapes:
the Hub's (tokenizer.json, tokenizer.model and gemma-3-1b-it's tokenizer_config.json with its chat
template) and the tokenizer.model alone with that config less its ``tokenizer_class``.
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

from autohub_core import AutoTokenizer, TokenizerError
from autohub_gemma2.tokenization import GemmaTokenizer

sys.path.insert(0, str(Path(__file__).parents[3] / "tests"))  # the repository's shared test helpers
from test_tokenizers_alignment import TEXTS as ALIGNMENT_TEXTS
from tokenizer_shapes import corpus

transformers.logging.set_verbosity_error()

USER_DEFINED = [
    "<mask>",
    "[multimodal]",
    "<start_of_turn>",
    "<end_of_turn>",
    "<start_of_image>",
    "<end_of_image>",
]
#: gemma-3-1b-it's chat template: a system message is folded into the first user turn.
CHAT_TEMPLATE = r"""{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}
"""
#: gemma-3-1b-it's tokenizer_config.json, without the image keys of the processor.
HUB_CONFIG = {
    "add_bos_token": True,
    "add_eos_token": False,
    "bos_token": "<bos>",
    "chat_template": CHAT_TEMPLATE,
    "clean_up_tokenization_spaces": False,
    "eos_token": "<eos>",
    "model_max_length": 1000000000000000019884624838656,
    "pad_token": "<pad>",
    "sp_model_kwargs": None,
    "spaces_between_special_tokens": False,
    "tokenizer_class": "GemmaTokenizer",
    "unk_token": "<unk>",
    "use_default_system_prompt": False,
}
TEXTS = [*ALIGNMENT_TEXTS, *corpus(), "<start_of_turn>user\nHi<end_of_turn>\n<start_of_image> literal <bos>"]
CONVERSATIONS = [
    [{"role": "user", "content": "Hello  there! "}],
    [
        {"role": "system", "content": "Answer in one word."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": " Four. "},
        {"role": "user", "content": "東京 🙂"},
    ],
    [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {
            "role": "user",
            "content": [{"type": "text", "text": " Describe "}, {"type": "text", "text": "this."}],
        },
    ],
]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("gemma3-tokenizer")
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
        user_defined_symbols=USER_DEFINED,
        minloglevel=2,
    )
    directories = {}
    for name in ("model", "hub"):
        directory = directories[name] = root / name
        directory.mkdir()
        shutil.copy(root / "tokenizer.model", directory / "tokenizer.model")
        (directory / "config.json").write_text(json.dumps({"model_type": "gemma3_text"}))
        # Without tokenizer_class, model_type gemma3_text names the tokenizer.
        config = (
            HUB_CONFIG if name == "hub" else {k: v for k, v in HUB_CONFIG.items() if k != "tokenizer_class"}
        )
        (directory / "tokenizer_config.json").write_text(json.dumps(config))
    # The Hub's tokenizer.json is transformers' conversion of the tokenizer.model.
    transformers.AutoTokenizer.from_pretrained(directories["model"]).save_pretrained(root / "converted")
    shutil.copy(root / "converted" / "tokenizer.json", directories["hub"] / "tokenizer.json")
    return directories


@pytest.mark.parametrize("shape", ["hub", "model"])
def test_ids_decode_and_chat_template_match_transformers(checkpoints: dict[str, Path], shape: str) -> None:
    ours = AutoTokenizer.from_pretrained(checkpoints[shape])
    reference = transformers.AutoTokenizer.from_pretrained(checkpoints[shape])
    assert type(ours) is GemmaTokenizer and type(reference).__name__ == "GemmaTokenizer"
    assert ours.get_vocab() == reference.get_vocab()
    assert ours.padding_side == reference.padding_side == "left"
    mine, theirs = ours(TEXTS, padding=True), reference(TEXTS, padding=True)
    assert mine["input_ids"] == theirs["input_ids"]
    assert mine["attention_mask"] == theirs["attention_mask"]
    for ids in theirs["input_ids"]:
        for skip in (False, True):
            assert ours.decode(ids, skip_special_tokens=skip) == reference.decode(
                ids, skip_special_tokens=skip
            )
    for conversation in CONVERSATIONS:
        for generation_prompt in (False, True):
            options: dict[str, Any] = {"add_generation_prompt": generation_prompt}
            text = ours.apply_chat_template(conversation, tokenize=False, **options)
            assert text == reference.apply_chat_template(conversation, tokenize=False, **options)
            ids = ours.apply_chat_template(conversation, return_dict=False, **options)
            assert ids == reference.apply_chat_template(conversation, return_dict=False, **options)
    folded = ours.apply_chat_template(CONVERSATIONS[1], tokenize=False, add_generation_prompt=True)
    assert folded.startswith("<bos><start_of_turn>user\nAnswer in one word.\n\nWhat is 2+2?<end_of_turn>\n")
    assert folded.endswith(
        "<start_of_turn>model\nFour.<end_of_turn>\n<start_of_turn>user\n東京 🙂<end_of_turn>\n<start_of_turn>model\n"
    )
    with pytest.raises(TokenizerError, match="Conversation roles must alternate"):
        ours.apply_chat_template(CONVERSATIONS[1][1:3][::-1], tokenize=False)
