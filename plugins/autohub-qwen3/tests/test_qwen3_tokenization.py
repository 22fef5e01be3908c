"""Qwen3's tokenizer (autohub-qwen2's Qwen2Tokenizer, registered for ``qwen3``) and its chat template
against transformers, on files shaped as Qwen3 repos ship them: ``vocab.json`` + ``merges.txt``,
``tokenizer.json`` and a tokenizer_config.json with Qwen3's added tokens (``<|im_start|>``,
``<|im_end|>`` special; ``<think>``, ``</think>``, ``<tool_call>`` ... not) and chat template."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import transformers
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from autohub_core import AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))  # the repository's shared helpers
from test_tokenizers_alignment import TEXTS
from tokenizer_shapes import corpus

#: Qwen3's added tokens after the BPE vocabulary, in Hub order (special or not), as Qwen3-0.6B has them.
ADDED_TOKENS = [
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<tool_response>", False),
    ("</tool_response>", False),
    ("<think>", False),
    ("</think>", False),
]
#: Qwen3's chat template (Qwen/Qwen3-0.6B tokenizer_config.json): tools, the reversed scan for the
#: last user query, reasoning content split at ``</think>``, tool calls and responses, enable_thinking.
CHAT_TEMPLATE = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\\n\\n' }}
    {%- endif %}
    {{- "# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in content %}
                {%- set reasoning_content = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}
                {%- set content = content.split('</think>')[-1].lstrip('\\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- endif %}
{%- endif %}"""
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
CONVERSATIONS = {
    "one-question": [{"role": "user", "content": "Héllo, what is 2 + 2? 数字 😀"}],
    "history-with-thinking": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Name a fox."},
        {"role": "assistant", "content": "<think>\nFoxes are quick.\n</think>\n\nThe quick brown fox."},
        {"role": "user", "content": "And a dog?"},
        {"role": "assistant", "content": "The lazy dog.", "reasoning_content": "Dogs are lazy."},
    ],
    "tools": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris and São Paulo?"},
        {
            "role": "assistant",
            "content": "<think>\nTwo calls.\n</think>\n\nChecking.",
            "tool_calls": [
                {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                {"function": {"name": "get_weather", "arguments": '{"city": "São Paulo"}'}},
            ],
        },
        {"role": "tool", "content": "18°C"},
        {"role": "tool", "content": "25°C"},
    ],
}
EXTRA_TEXTS = [
    "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nworld<|im_end|>",
    "<think>reasoning</think> answer <tool_call>{}</tool_call><|endoftext|>",
    "a<|im_end|>b <think> c</think>d",
]


def _write_legacy_files(directory: Path) -> None:
    """vocab.json + merges.txt of a byte-level BPE (no special tokens in it, like Qwen's), config.json
    and a tokenizer_config.json with Qwen3's keys, added tokens (after the vocabulary) and template."""
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=600, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    backend.train_from_iterator(corpus(), trainer)
    backend.model.save(str(directory))
    size = backend.get_vocab_size()
    added = {
        str(size + index): {
            "content": content,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": special,
        }
        for index, (content, special) in enumerate(ADDED_TOKENS)
    }
    config = {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": added,
        "additional_special_tokens": [content for content, special in ADDED_TOKENS[1:] if special],
        "bos_token": None,
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": 131072,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }
    (directory / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    (directory / "config.json").write_text(json.dumps({"model_type": "qwen3"}), encoding="utf-8")


@pytest.fixture(scope="module", params=["vocab-merges", "hub-files"])
def tokenizers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """(autohub, transformers) tokenizers of Qwen3-shaped files: legacy files only, or the files a Qwen3
    repo holds (tokenizer.json written by transformers beside vocab.json + merges.txt)."""
    directory = tmp_path_factory.mktemp(request.param)
    _write_legacy_files(directory)
    if request.param == "hub-files":
        saved = directory / "saved"
        transformers.AutoTokenizer.from_pretrained(directory).save_pretrained(saved)
        shutil.copy(saved / "tokenizer.json", directory / "tokenizer.json")
    ours, theirs = (
        AutoTokenizer.from_pretrained(directory),
        transformers.AutoTokenizer.from_pretrained(directory),
    )
    return ours, theirs


def test_special_tokens_match_transformers(tokenizers: tuple) -> None:
    ours, theirs = tokenizers
    assert type(ours).__name__ == "Qwen2Tokenizer"
    for name in (
        "bos_token",
        "eos_token",
        "pad_token",
        "unk_token",
        "eos_token_id",
        "pad_token_id",
        "padding_side",
    ):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.convert_tokens_to_ids(["<think>", "</think>"]) == theirs.convert_tokens_to_ids(
        ["<think>", "</think>"]
    )
    assert len(ours) == len(theirs)


def test_ids_and_decode_match_transformers(tokenizers: tuple) -> None:
    ours, theirs = tokenizers
    texts = [*corpus(), *TEXTS, *EXTRA_TEXTS]
    mine, reference = ours(texts)["input_ids"], theirs(texts)["input_ids"]
    assert mine == reference
    for ids in reference:
        assert ours.decode(ids) == theirs.decode(ids)
        assert ours.decode(ids, skip_special_tokens=True) == theirs.decode(ids, skip_special_tokens=True)
    padded = ours(EXTRA_TEXTS, padding=True), theirs(EXTRA_TEXTS, padding=True)
    assert padded[0]["input_ids"] == padded[1]["input_ids"]
    assert padded[0]["attention_mask"] == padded[1]["attention_mask"]


@pytest.mark.parametrize("conversation", sorted(CONVERSATIONS))
def test_chat_template_matches_transformers(tokenizers: tuple, conversation: str) -> None:
    """Qwen3's template with and without a generation prompt, thinking on (default) or off
    (``enable_thinking=False``), with tools where the conversation calls them: same text, same ids."""
    ours, theirs = tokenizers
    messages = CONVERSATIONS[conversation]
    tools = [WEATHER] if conversation == "tools" else None
    for add_generation_prompt in (False, True):
        for thinking in ({}, {"enable_thinking": False}):
            options = {"add_generation_prompt": add_generation_prompt, "tools": tools, **thinking}
            text = ours.apply_chat_template(messages, tokenize=False, **options)
            assert text == theirs.apply_chat_template(messages, tokenize=False, **options), options
            ids = ours.apply_chat_template(messages, return_dict=False, **options)
            assert ids == theirs.apply_chat_template(messages, return_dict=False, **options), options
    prompt = ours.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True, enable_thinking=False
    )
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
