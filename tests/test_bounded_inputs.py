"""Bounded work on hostile input: chat templates, tokenizer files and texts, the Rust backend's
panics, tokenizer_config.json values, and the memory the process may still use.

Everything is built here (tiny ``tokenizers`` models, fake /proc trees); no transformers.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import jinja2
import jinja2.ext
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

from autohub_core import limits
from autohub_core.configuration import read_json_file
from autohub_core.errors import ChatTemplateError, ConfigError, LimitExceededError, TokenizerError
from autohub_core.tokenization import PreTrainedTokenizer, WordPieceTokenizer, backend_errors

SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}
WORDS = ["<pad>", "<unk>", "<s>", "</s>", "hello", "world", "a", "b", "c"]


def _backend() -> Tokenizer:
    backend = Tokenizer(
        models.WordLevel({word: index for index, word in enumerate(WORDS)}, unk_token="<unk>")
    )
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return backend


@pytest.fixture(autouse=True)
def _default_limits() -> Iterator[None]:
    limits.reset()
    yield
    limits.reset()


@pytest.fixture
def tokenizer() -> PreTrainedTokenizer:
    return PreTrainedTokenizer(_backend(), **SPECIALS)


# ------------------------------------------------------------------ chat templates

LLAMA3 = """{{- bos_token }}
{%- if not date_string is defined %}{%- set date_string = strftime_now("%d %b %Y") %}{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if tools is not none %}{{- "Environment: ipython\\n" }}{%- endif %}
{{- "Today Date: " + date_string + "\\n\\n" }}
{%- if tools is not none %}
    {%- for t in tools %}{{- t | tojson(indent=4) }}{{- "\\n\\n" }}{%- endfor %}
{%- endif %}
{{- system_message }}{{- "<|eot_id|>" }}
{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
        {{- '{"name": "' + tool_call.name + '", "parameters": ' }}{{- tool_call.arguments | tojson }}{{- "}<|eot_id|>" }}
    {%- else %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
        {%- if message.content is mapping %}{{- message.content | tojson }}{%- else %}{{- message.content }}{%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}
"""

QWEN2 = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}{%- else %}{{- 'You are a helpful assistant.' }}{%- endif %}
    {{- "\\n\\n# Tools\\n\\n<tools>" }}
    {%- for tool in tools %}{{- "\\n" }}{{- tool | tojson }}{%- endfor %}
    {{- "\\n</tools><|im_end|>\\n" }}
{%- elif messages[0]['role'] == 'system' %}
    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string %}
        {%- set ns.multi_step_tool = false %}{%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.role == "user" or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {%- set content = message.content %}
        {%- if '</think>' in content %}{%- set content = content.split('</think>')[-1].lstrip('\\n') %}{%- endif %}
        {{- '<|im_start|>' + message.role + '\\n' + content }}
        {%- for tool_call in message.tool_calls or [] %}
            {%- if tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}{{- tool_call.name }}{{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}{{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.index0 == 0 or messages[loop.index0 - 1].role != "tool" %}{{- '<|im_start|>user' }}{%- endif %}
        {{- '\\n<tool_response>\\n' }}{{- message.content }}{{- '\\n</tool_response>' }}
        {%- if loop.last or messages[loop.index0 + 1].role != "tool" %}{{- '<|im_end|>\\n' }}{%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}
"""

MISTRAL = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}"
)

# Every operation the bounded sandbox intercepts, used the way a legitimate template would.
FEATURES = """{% macro show(item, depth=0) -%}
{{ '  ' * depth }}{{ '%s (%d)'|format(item.name, depth) }}{{ '{:>6}|{:<4}'.format(item.name, depth) }}
{% for child in item.children or [] %}{{ show(child, depth + 1) }}{% endfor %}
{%- endmacro %}
{{ show(tree) }}{{ 2 ** 10 }} {{ 7 * 6 }} {{ [1, 2] + [3] }} {{ 'ab' * 3 }} {{ 'x' ~ 1 ~ none }} {{ 17 % 5 }}
{{ '%-5s|%5.2f|%*d' % ('ab', 3.14159, 4, 7) }}
{% for key, value in mapping|dictsort %}{{ loop.index }}/{{ loop.length }}{{ loop.cycle('a', 'b') }}{{ key }}={{ value }}{% if not loop.last %}, {% endif %}{% endfor %}
{% for x in [1, 1, 2, 3] %}{% if loop.changed(x) %}{{ x }}{{ loop.previtem }}{% endif %}{% endfor %}
{% for item in [tree] recursive %}{{ item.name }}{% if item.children %}[{{ loop(item.children) }}]{% endif %}{% endfor %}
{{ words|join(', ') }} {{ words|map('upper')|join }} {{ words|map('center', 7)|list }} {{ 'a b'|replace(' ', '--') }}
{{ 'line1\\nline2'|indent(3, first=true) }} {{ 'a long sentence to wrap'|wordwrap(6) }} {{ [[1], [2]]|sum(start=[]) }}
{{ range(7)|batch(3, 0)|list }} {{ range(7)|slice(3)|list }} {{ mapping|tojson(indent=2, sort_keys=true) }}
{{ 'x'.center(9) }}{{ 'y'.rjust(4, '.') }}{{ '7'.zfill(3) }}{{ 'a\\tb'.expandtabs(4) }}{{ '-'.join(words) }}
{{ 'aXbX'.replace('X', '_', 1) }} {{ '{0}-{name}'.format(1, name='n') }} {{ '{w}'.format_map({'w': 'm'}) }}
{% autoescape true %}{{ '<b>' ~ words[0] }}{% endautoescape %} {% for i in range(3) %}{% if i == 1 %}{% continue %}{% endif %}{{ i }}{% endfor %}
"""

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Héllo, wörld! 数字 😀"},
    {"role": "assistant", "content": "<think>\nhm</think>\n\nHi there", "tool_calls": None},
    {"role": "user", "content": 'Say "quotes" & <tags>'},
]
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"city": {"type": "string"}}}}
]
FEATURE_VARIABLES = {
    "tree": {"name": "root", "children": [{"name": "a", "children": [{"name": "a1"}]}, {"name": "b"}]},
    "mapping": {"beta": 2, "alpha": [1, {"x": None}]},
    "words": ["one", "two", "three"],
}


def _reference_render(template: str, **variables: object) -> str:
    """The template rendered as transformers renders it: jinja2's sandbox, unbounded."""
    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols]
    )

    def tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(
            value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
        )

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    environment.filters["tojson"] = tojson
    environment.globals["raise_exception"] = raise_exception
    environment.globals["strftime_now"] = lambda format: time.strftime(format)
    return environment.from_string(template).render(**variables)


@pytest.mark.parametrize(
    ("template", "messages", "variables"),
    [
        (LLAMA3, MESSAGES, {"date_string": "26 Jul 2024"}),
        (LLAMA3, MESSAGES[1:], {"tools": TOOLS, "date_string": "1 Jan 2025"}),
        (QWEN2, MESSAGES, {}),
        (QWEN2, [*MESSAGES, {"role": "tool", "content": "sunny"}], {"tools": TOOLS}),
        (MISTRAL, [MESSAGES[1], {"role": "assistant", "content": "ok"}, MESSAGES[3]], {}),
        (FEATURES, MESSAGES, FEATURE_VARIABLES),
    ],
    ids=["llama3", "llama3-tools", "qwen2", "qwen2-tools", "mistral", "every-intercepted-operation"],
)
@pytest.mark.parametrize("add_generation_prompt", [False, True])
def test_legitimate_templates_render_byte_identically(
    tokenizer: PreTrainedTokenizer,
    template: str,
    messages: list,
    variables: dict,
    add_generation_prompt: bool,
) -> None:
    text = tokenizer.apply_chat_template(
        messages,
        chat_template=template,
        add_generation_prompt=add_generation_prompt,
        tokenize=False,
        **variables,
    )
    plain_messages = [{key: value for key, value in m.items() if value is not None} for m in messages]
    expected = _reference_render(
        template,
        messages=plain_messages,
        tools=variables.pop("tools", None),
        documents=None,
        add_generation_prompt=add_generation_prompt,
        **tokenizer.special_tokens_map,
        **variables,
    )
    assert text == expected
    assert len(text) > 40


@pytest.mark.parametrize(
    ("template", "limit"),
    [
        ("{{ 'a' * 10**10 }}", "chat_template_output_chars"),
        ("{{ [0] * 10**10 }}", "chat_template_output_chars"),
        ("{{ (10**10) * 'a' }}", "chat_template_output_chars"),
        ("{{ '%999999999d' % 1 }}", "chat_template_output_chars"),
        ("{{ '%*d' % (999999999, 1) }}", "chat_template_output_chars"),
        ("{{ '%999999999d'|format(1) }}", "chat_template_output_chars"),
        ("{{ '{:>999999999}'.format(1) }}", "chat_template_output_chars"),
        ("{{ '{:>{w}}'.format(1, w=999999999) }}", "chat_template_output_chars"),
        ("{{ 'a'|center(9999999999) }}", "chat_template_output_chars"),
        ("{{ 'a'.ljust(9999999999) }}", "chat_template_output_chars"),
        ("{{ ['a']|map('center', 9999999999)|list }}", "chat_template_output_chars"),
        ("{{ (['a' * 1000000] * 1000000)|join }}", "chat_template_output_chars"),
        ("{{ 'x'.join(['a' * 1000000] * 1000000) }}", "chat_template_output_chars"),
        ("{{ ('a' * 1000000)|replace('', 'b' * 1000) }}", "chat_template_output_chars"),
        ("{{ ('a\\n' * 100000)|indent(100000) }}", "chat_template_output_chars"),
        ("{{ ([[0] * 1000000] * 1000)|sum(start=[]) }}", "chat_template_output_chars"),
        ("{{ [1]|batch(999999999, 0)|list }}", "chat_template_output_chars"),
        ("{{ [[[1]]]|tojson(indent=999999999) }}", "chat_template_output_chars"),
        ("{{ ('a' * 100000).translate({97: 'x' * 100000}) }}", "chat_template_output_chars"),
        ("{{ strftime_now('%999999999Y') }}", "chat_template_output_chars"),
        ("{{ lipsum(999999999) }}", "chat_template_output_chars"),
        (
            "{% set ns = namespace(s='a') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "chat_template_output_chars",
        ),
        (
            "{% set ns = namespace(s=['a']) %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
            "chat_template_output_chars",
        ),
        ("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", "chat_template_output_chars"),
        ("{{ 10**100000000 }}", "integers of at most"),
        (
            "{% set ns = namespace(n=10**1000) %}{% for i in range(64) %}{% set ns.n = ns.n * ns.n %}{% endfor %}",
            "integers of at most",
        ),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "chat_template_loop_iterations",
        ),
        (
            "{% for i in range(100000) recursive %}{% if loop.depth < 4 %}{{ loop(range(100000)) }}{% endif %}"
            "{% endfor %}",
            "chat_template_loop_iterations",
        ),
        ("{{ [1]|slice(999999999)|list }}", "chat_template_loop_iterations"),
        (
            "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
            "chat_template_seconds",
        ),
        ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "recursed too deeply"),
    ],
)
def test_hostile_templates_are_refused_before_the_work(
    tokenizer: PreTrainedTokenizer, template: str, limit: str
) -> None:
    limits.configure(chat_template_seconds=1.0, chat_template_loop_iterations=100_000)
    started = time.monotonic()
    with pytest.raises(ChatTemplateError, match=limit):
        tokenizer.apply_chat_template(MESSAGES, chat_template=template, tokenize=False)
    assert time.monotonic() - started < 5


def test_generation_blocks_render_their_body(tokenizer: PreTrainedTokenizer) -> None:
    template = (
        "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}!{% endgeneration %}"
        "{% else %}{{ m.content }}{% endif %}|{% endfor %}"
    )
    assert tokenizer.apply_chat_template(MESSAGES[:3], chat_template=template, tokenize=False) == (
        "Be brief.|Héllo, wörld! 数字 😀|<think>\nhm</think>\n\nHi there!|"
    )


def test_limits_are_configurable(tokenizer: PreTrainedTokenizer) -> None:
    template = "{% for i in range(n) %}{{ 'ab' }}{% endfor %}"
    assert (
        tokenizer.apply_chat_template(MESSAGES, chat_template=template, tokenize=False, n=500) == "ab" * 500
    )
    limits.configure(chat_template_output_chars=999)
    with pytest.raises(ChatTemplateError, match="AUTOHUB_CHAT_TEMPLATE_OUTPUT_CHARS"):
        tokenizer.apply_chat_template(MESSAGES, chat_template=template, tokenize=False, n=500)
    with pytest.raises(ChatTemplateError, match="the chat template is 1000 characters long"):
        tokenizer.apply_chat_template(MESSAGES, chat_template="x" * 1000, tokenize=False)
    limits.configure(chat_template_output_chars=10_000_000, chat_template_loop_iterations=99)
    with pytest.raises(ChatTemplateError, match="chat_template_loop_iterations=99"):
        tokenizer.apply_chat_template(MESSAGES, chat_template=template, tokenize=False, n=100)
    # Every rendering (each conversation of a batch) gets the whole budget.
    assert (
        tokenizer.apply_chat_template([MESSAGES] * 3, chat_template=template, tokenize=False, n=90)
        == ["ab" * 90] * 3
    )


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("hello\n{% for %}", r"does not compile: .* \(line 2\)"),
        ("{% if x %}", r"does not compile: .*endif.* \(line 1\)"),
        ("{{ raise_exception('roles must alternate') }}", "failed: roles must alternate"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{{ 'a' + 1 }}", "TypeError"),
        ("{{ x.y.z }}", "'x' is undefined"),
        ("{{ messages.__class__.__mro__ }}", "failed"),
        ("{{ range(10**6)|list }}", "OverflowError"),
        ("{{ 2.5 ** 10000 }}", "OverflowError"),
        ("{{ {}|dictsort(by='nothing') }}", "FilterArgumentError|failed"),
    ],
)
def test_template_errors_are_chat_template_errors(
    tokenizer: PreTrainedTokenizer, template: str, message: str
) -> None:
    with pytest.raises(ChatTemplateError, match=message):
        tokenizer.apply_chat_template(MESSAGES, chat_template=template, tokenize=False)


def test_chat_template_file_is_size_capped(tokenizer: PreTrainedTokenizer, tmp_path: pathlib.Path) -> None:
    tokenizer.save_pretrained(tmp_path)
    (tmp_path / "chat_template.jinja").write_text("{{ messages|length }}" + " " * 5000, encoding="utf-8")
    loaded = PreTrainedTokenizer.from_pretrained(tmp_path)
    assert loaded.apply_chat_template(MESSAGES, tokenize=False).strip() == "4"
    limits.configure(chat_template_output_chars=1000)
    with pytest.raises(LimitExceededError, match=r"chat_template\.jinja"):
        loaded.apply_chat_template(MESSAGES, tokenize=False)


# ------------------------------------------------------------------ the Rust backend's panics

# Oniguruma gives up on this pattern over a run of "a"s ("retry-limit-in-match over") and the
# tokenizers library panics: pyo3 raises PanicException, a BaseException.
PANICKING_PATTERN = r"(a|aa)+c"


@pytest.fixture
def panicking_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    backend = _backend()
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(PANICKING_PATTERN), behavior="isolated")
    backend.decoder = decoders.Sequence([decoders.Fuse(), decoders.Replace(Regex(PANICKING_PATTERN), "")])
    backend.save(str(tmp_path / "tokenizer.json"))
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(SPECIALS), encoding="utf-8")
    return tmp_path


def test_the_backend_really_panics(panicking_dir: pathlib.Path) -> None:
    backend = Tokenizer.from_file(str(panicking_dir / "tokenizer.json"))
    with pytest.raises(BaseException) as raised:
        backend.encode("a" * 40)
    assert type(raised.value).__name__ == "PanicException"
    assert not isinstance(raised.value, Exception)


@pytest.mark.parametrize(
    "call",
    [
        lambda t: t("a" * 40),
        lambda t: t(["hello", "a" * 40], padding=True),
        lambda t: t("hello", "a" * 40),
        lambda t: t.encode("a" * 40),
        lambda t: t.tokenize("a" * 40),
        lambda t: t(text_target="a" * 40),
        lambda t: t.apply_chat_template(
            [{"role": "user", "content": "a" * 40}], chat_template="{{ messages[0].content }}"
        ),
        lambda t: t.decode([6] * 40),
        lambda t: t.convert_tokens_to_string(["a"] * 40),
    ],
    ids=["call", "batch", "pair", "encode", "tokenize", "target", "chat", "decode", "tokens-to-string"],
)
def test_backend_panics_are_tokenizer_errors(panicking_dir: pathlib.Path, call) -> None:
    tokenizer = PreTrainedTokenizer.from_pretrained(panicking_dir)
    with pytest.raises(TokenizerError, match="panicked"):
        call(tokenizer)
    assert tokenizer("b")["input_ids"] == [7]  # still usable afterwards


@pytest.mark.parametrize("kind", [KeyboardInterrupt, SystemExit, GeneratorExit])
def test_backend_errors_let_interrupts_through(kind: type[BaseException]) -> None:
    with pytest.raises(kind), backend_errors("encoding"):
        raise kind()
    with pytest.raises(TokenizerError, match="encoding: Exception: refused"), backend_errors("encoding"):
        raise Exception("refused")  # what the Rust side raises for input it refuses


# ------------------------------------------------------------------ file and text size caps


def test_oversized_tokenizer_json_is_refused_before_reading(
    tokenizer: PreTrainedTokenizer, tmp_path: pathlib.Path
) -> None:
    tokenizer.save_pretrained(tmp_path)
    with open(tmp_path / "tokenizer.json", "r+b") as handle:
        handle.truncate(2 * 1024**3)  # sparse: 2 GiB that nobody must read
    started = time.monotonic()
    with pytest.raises(
        LimitExceededError, match=r"tokenizer\.json is 2048\.0 MiB.*AUTOHUB_MAX_TOKENIZER_FILE_BYTES"
    ):
        PreTrainedTokenizer.from_pretrained(tmp_path)
    assert time.monotonic() - started < 2


def test_legacy_files_are_size_capped(tmp_path: pathlib.Path) -> None:
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", *(f"word{index}" for index in range(200))]
    (tmp_path / "vocab.txt").write_text("\n".join(words) + "\n")
    assert WordPieceTokenizer(vocab_file=tmp_path / "vocab.txt").tokenize("hello") == ["hello"]
    (tmp_path / "spiece.model").write_bytes(b"\0" * 5000)
    limits.configure(max_tokenizer_file_bytes=1000)
    with pytest.raises(LimitExceededError, match=r"vocab\.txt is"):
        WordPieceTokenizer(vocab_file=tmp_path / "vocab.txt")
    from autohub_core.sentencepiece import special_pieces, tokenizer_from_sentencepiece

    with pytest.raises(LimitExceededError, match=r"spiece\.model is"):
        special_pieces(tmp_path / "spiece.model")
    with pytest.raises(LimitExceededError, match=r"spiece\.model is"):
        tokenizer_from_sentencepiece(tmp_path / "spiece.model", None)  # type: ignore[arg-type]


def test_plugin_legacy_and_tokenizer_json_are_size_capped(tmp_path: pathlib.Path) -> None:
    from autohub_gpt2.tokenization import GPT2Tokenizer

    vocab = {"a": 0, "b": 1, "ab": 2, **{f"w{index}": 3 + index for index in range(100)}}
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "merges.txt").write_text("#version: 0.2\na b\n")
    files = {"vocab_file": tmp_path / "vocab.json", "merges_file": tmp_path / "merges.txt"}
    assert GPT2Tokenizer(**files).tokenize("ab") == ["ab"]
    GPT2Tokenizer(**files).save_pretrained(tmp_path)
    limits.configure(max_tokenizer_file_bytes=1000)
    with pytest.raises(LimitExceededError, match=r"vocab\.json is"):
        GPT2Tokenizer(**files)
    with pytest.raises(LimitExceededError, match=r"tokenizer\.json is"):
        GPT2Tokenizer(tokenizer_file=tmp_path / "tokenizer.json")


def test_json_metadata_is_size_and_depth_capped(
    tokenizer: PreTrainedTokenizer, tmp_path: pathlib.Path
) -> None:
    tokenizer.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({**config, "padding": " " * 5000}))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "note": " " * 5000}))
    limits.configure(max_json_bytes=4096)
    with pytest.raises(LimitExceededError, match=r"tokenizer_config\.json .*AUTOHUB_MAX_JSON_BYTES"):
        PreTrainedTokenizer.from_pretrained(tmp_path)
    with pytest.raises(LimitExceededError, match=r"config\.json"):
        read_json_file(tmp_path / "config.json")
    limits.reset()
    nested = "[" * 100_000 + "]" * 100_000
    (tmp_path / "config.json").write_text(nested)
    with pytest.raises(ConfigError, match=r"config\.json"):
        read_json_file(tmp_path / "config.json")
    del config["added_tokens_decoder"]
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    (tmp_path / "special_tokens_map.json").write_text('{"bos_token": ' + "[" * 70 + "]" * 70 + "}")
    with pytest.raises(TokenizerError, match=r"special_tokens_map\.json is nested 71 levels deep"):
        PreTrainedTokenizer.from_pretrained(tmp_path)


@pytest.mark.parametrize(
    "call",
    [
        lambda t, text: t(text),
        lambda t, text: t("hello", text),
        lambda t, text: t(["hello", text]),
        lambda t, text: t([("hello", "world"), ("hello", text)]),
        lambda t, text: t([text[:500], text[500:]], is_split_into_words=True),
        lambda t, text: t([["hello"], [text[:600], text[600:]]], is_split_into_words=True),
        lambda t, text: t(text_target=text),
        lambda t, text: t.encode(text),
        lambda t, text: t.tokenize(text),
        lambda t, text: t.apply_chat_template(
            [{"role": "user", "content": text}], chat_template="{{ messages[0].content }}"
        ),
    ],
    ids=[
        "text",
        "pair",
        "batch",
        "batch-of-pairs",
        "split-words",
        "batch-of-split-words",
        "target",
        "encode",
        "tokenize",
        "chat",
    ],
)
def test_texts_are_length_capped(tokenizer: PreTrainedTokenizer, call) -> None:
    limits.configure(max_text_chars=1000)
    assert call(tokenizer, "hello " * 166) is not None  # 996 characters
    with pytest.raises(LimitExceededError, match=r"1002 characters.*max_text_chars=1000"):
        call(tokenizer, "hello " * 167)


@pytest.mark.parametrize(
    "text", [["hello", 5], [["hello"], ["world", None]], ("hello", 5)], ids=["batch", "split", "tuple"]
)
def test_texts_of_the_wrong_type_stay_tokenizer_errors(tokenizer: PreTrainedTokenizer, text: object) -> None:
    with pytest.raises(TokenizerError):
        tokenizer(text, is_split_into_words=isinstance(text[0], list))


# ------------------------------------------------------------------ tokenizer_config.json values


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("model_max_length", math.inf),
        ("model_max_length", -math.inf),
        ("model_max_length", math.nan),
        ("model_max_length", -1),
        ("model_max_length", 512.5),
        ("model_max_length", True),
        ("model_max_length", "512"),
        ("model_max_length", [512]),
        ("bos_token", 3),
        ("bos_token", ["<s>"]),
        ("bos_token", {"content": {"content": "<s>"}}),
        ("bos_token", {"content": "<s>", "lstrip": "yes"}),
        ("additional_special_tokens", "<s>"),
        ("additional_special_tokens", [["<s>"]]),
        ("added_tokens_decoder", []),
        ("added_tokens_decoder", {"x": {"content": "<s>"}}),
        ("added_tokens_decoder", {"-1": {"content": "<s>"}}),
        ("added_tokens_decoder", {"0": "<s>"}),
        ("added_tokens_decoder", {"0": {"content": 5}}),
        ("padding_side", "middle"),
        ("truncation_side", 1),
        ("model_input_names", "input_ids"),
        ("clean_up_tokenization_spaces", "no"),
        ("chat_template", 42),
        ("chat_template", [{"name": "default"}]),
    ],
)
def test_wrongly_typed_config_values_fail_at_load_naming_file_and_key(
    tokenizer: PreTrainedTokenizer, tmp_path: pathlib.Path, key: str, value: object
) -> None:
    tokenizer.save_pretrained(tmp_path)
    path = tmp_path / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config[key] = value
    path.write_text(
        json.dumps(config)
    )  # Infinity / NaN are written as JSON's extensions, as Python reads them
    with pytest.raises(TokenizerError, match=rf"tokenizer_config\.json: {key} must be"):
        PreTrainedTokenizer.from_pretrained(tmp_path)
    with pytest.raises(TokenizerError, match=rf"{key} must be"):
        PreTrainedTokenizer(_backend(), **{key: value})


def test_special_tokens_map_values_are_checked_at_load(
    tokenizer: PreTrainedTokenizer, tmp_path: pathlib.Path
) -> None:
    tokenizer.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    del config["added_tokens_decoder"]
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    (tmp_path / "special_tokens_map.json").write_text(json.dumps({"eos_token": {"content": ["</s>"]}}))
    with pytest.raises(TokenizerError, match=r"special_tokens_map\.json: eos_token must be a token"):
        PreTrainedTokenizer.from_pretrained(tmp_path)


@pytest.mark.parametrize("value", [int(1e30), 1e30, 512, 512.0, 0, None])
def test_legitimate_model_max_lengths_load(
    tokenizer: PreTrainedTokenizer, tmp_path: pathlib.Path, value: object
) -> None:
    tokenizer.save_pretrained(tmp_path)
    path = tmp_path / "tokenizer_config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "model_max_length": value}))
    loaded = PreTrainedTokenizer.from_pretrained(tmp_path)
    assert loaded.model_max_length == (int(1e30) if value is None else int(value))
    assert isinstance(loaded.model_max_length, int)


# ------------------------------------------------------------------ memory the process may use


def _fake_root(tmp_path: pathlib.Path, files: dict[str, str]) -> pathlib.Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


GIB = 1024**3
MEMINFO = (
    "MemTotal:       67108864 kB\nMemFree:         1000 kB\nMemAvailable:   33554432 kB\n"  # 32 GiB available
)


@pytest.fixture
def no_rlimits(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    monkeypatch.setattr(resource, "getrlimit", lambda kind: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


@pytest.mark.usefixtures("no_rlimits")
@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({}, None),
        ({"proc/meminfo": MEMINFO}, 32 * GIB),
        # cgroup v2: the tightest of the process's cgroup and its ancestors
        (
            {
                "proc/meminfo": MEMINFO,
                "proc/self/cgroup": "0::/jobs/job1\n",
                "sys/fs/cgroup/jobs/job1/memory.max": "max\n",
                "sys/fs/cgroup/jobs/job1/memory.current": str(1 * GIB),
                "sys/fs/cgroup/jobs/memory.max": str(8 * GIB),
                "sys/fs/cgroup/jobs/memory.current": str(3 * GIB),
            },
            5 * GIB,
        ),
        ({"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "max\n"}, None),
        # a hybrid host: v2 under unified/, v1's memory controller elsewhere, unlimited
        (
            {
                "proc/meminfo": MEMINFO,
                "proc/self/cgroup": "4:memory:/box\n0::/\n",
                "sys/fs/cgroup/memory/box/memory.limit_in_bytes": "9223372036854771712\n",
                "sys/fs/cgroup/memory/box/memory.usage_in_bytes": str(GIB),
                "sys/fs/cgroup/unified/memory.max": "max\n",
            },
            32 * GIB,
        ),
        # cgroup v1 with a limit
        (
            {
                "proc/meminfo": MEMINFO,
                "proc/self/cgroup": "9:cpu,cpuacct:/box\n4:memory:/box\n",
                "sys/fs/cgroup/memory/box/memory.limit_in_bytes": str(2 * GIB),
                "sys/fs/cgroup/memory/box/memory.usage_in_bytes": str(GIB // 2),
            },
            GIB + GIB // 2,
        ),
        # a cgroup already over its limit leaves nothing
        (
            {
                "proc/self/cgroup": "0::/\n",
                "sys/fs/cgroup/memory.max": "100",
                "sys/fs/cgroup/memory.current": "200",
            },
            0,
        ),
        ({"proc/meminfo": "garbage\n", "proc/self/cgroup": "nonsense"}, None),
    ],
    ids=["nothing", "meminfo", "v2-ancestor", "v2-max", "hybrid-unlimited", "v1", "over", "garbage"],
)
def test_available_host_memory_from_proc_and_cgroups(
    tmp_path: pathlib.Path, files: dict[str, str], expected: int | None
) -> None:
    assert limits.available_host_memory(_fake_root(tmp_path, files)) == expected


def test_available_host_memory_subtracts_usage_from_rlimits(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import resource

    rlimits = {resource.RLIMIT_AS: 6 * GIB, resource.RLIMIT_DATA: 20 * GIB}
    monkeypatch.setattr(resource, "getrlimit", lambda kind: (rlimits.get(kind, resource.RLIM_INFINITY),) * 2)
    status = "Name:\tpython\nVmSize:\t 2097152 kB\nVmData:\t 1048576 kB\n"  # 2 GiB mapped, 1 GiB data
    root = _fake_root(tmp_path, {"proc/meminfo": MEMINFO, "proc/self/status": status})
    assert limits.available_host_memory(root) == 4 * GIB
    rlimits[resource.RLIMIT_DATA] = 2 * GIB
    assert limits.available_host_memory(root) == 1 * GIB


def test_a_model_bigger_than_rlimit_as_is_refused_before_allocating() -> None:
    script = textwrap.dedent(
        """
        import resource
        import torch
        from autohub_core import AutoConfig, AutoModel, ConfigError, limits
        from autohub_core.limits import _kib_fields
        from pathlib import Path

        used = _kib_fields(Path("/proc/self/status"))["VmSize"]
        resource.setrlimit(resource.RLIMIT_AS, (used + 2 * 1024**3, resource.RLIM_INFINITY))
        room = limits.available_host_memory()
        assert room is not None and room <= 2 * 1024**3, room
        small = AutoConfig.for_model("bert", vocab_size=100, hidden_size=32, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=37)
        AutoModel.from_config(small)  # fits
        # ~4.5 GiB of float32 weights: more than the address space left, less than the host's RAM
        big = AutoConfig.for_model("bert", vocab_size=1_200_000, hidden_size=1024, num_hidden_layers=1,
                                   num_attention_heads=2, intermediate_size=37)
        try:
            AutoModel.from_config(big)
        except ConfigError as error:
            assert "this process can still use" in str(error), error
            print("refused:", error)
        else:
            raise SystemExit("the model was built")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env={**os.environ}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "refused: BertModel with this config needs" in result.stdout
