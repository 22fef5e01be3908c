"""generate() parity with transformers: greedy, sampling, stopping, processors, streamers, config."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import transformers

from autohub_core import AutoModelForCausalLM, AutoModelForSeq2SeqLM, GenerationError
from autohub_core.generation import GenerationConfig, TextIteratorStreamer

DECODER_CONFIGS = {
    "llama": {"num_key_value_heads": 2},
    "mistral": {"num_key_value_heads": 2, "sliding_window": 6},
    "qwen2": {
        "num_key_value_heads": 2,
        "use_sliding_window": True,
        "sliding_window": 6,
        "max_window_layers": 1,
    },
}
TINY_DECODER = {
    "vocab_size": 99,
    "hidden_size": 32,
    "intermediate_size": 37,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "max_position_embeddings": 64,
    "pad_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
}
TINY_GPT2 = {"vocab_size": 99, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 64}
TINY_T5 = {
    "vocab_size": 99,
    "d_model": 32,
    "d_kv": 8,
    "d_ff": 37,
    "num_layers": 2,
    "num_heads": 4,
    "decoder_start_token_id": 0,
}


@pytest.fixture(scope="module")
def save_hf(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """A tiny random transformers generator of ``model_type`` saved to disk (cached)."""
    cache: dict[str, Path] = {}

    def save(model_type: str, **overrides: object) -> Path:
        key = model_type + json.dumps(overrides, sort_keys=True)
        if key not in cache:
            if model_type == "gpt2":
                values, class_name = {**TINY_GPT2, **overrides}, "GPT2LMHeadModel"
            elif model_type == "t5":
                values, class_name = {**TINY_T5, **overrides}, "T5ForConditionalGeneration"
            else:
                values = {**TINY_DECODER, **DECODER_CONFIGS[model_type], **overrides}
                class_name = None
            config = transformers.AutoConfig.for_model(model_type, **values)
            torch.manual_seed(0)
            if class_name is None:
                model = transformers.AutoModelForCausalLM.from_config(config)
            else:
                model = getattr(transformers, class_name)(config)
            directory = tmp_path_factory.mktemp(model_type)
            model.eval().save_pretrained(directory)
            cache[key] = directory
        return cache[key]

    return save


def _prompts(pad_token_id: int = 0) -> dict[str, torch.Tensor]:
    """Three prompts of lengths 6, 3 and 1, left padded."""
    generator = torch.Generator().manual_seed(7)
    input_ids = torch.randint(3, 99, (3, 6), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, :3] = 0
    attention_mask[2, :5] = 0
    input_ids[attention_mask == 0] = pad_token_id
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def _both(directory: Path, seq2seq: bool = False) -> tuple[torch.nn.Module, torch.nn.Module]:
    if seq2seq:
        return (
            AutoModelForSeq2SeqLM.from_pretrained(directory),
            transformers.AutoModelForSeq2SeqLM.from_pretrained(directory).eval(),
        )
    return (
        AutoModelForCausalLM.from_pretrained(directory),
        transformers.AutoModelForCausalLM.from_pretrained(directory).eval(),
    )


def _generate_both(ours: torch.nn.Module, theirs: torch.nn.Module, seed: int = 0, **kwargs: object) -> tuple:
    torch.manual_seed(seed)
    mine = ours.generate(**kwargs)
    torch.manual_seed(seed)
    reference = theirs.generate(**kwargs)
    return mine, reference


@pytest.mark.parametrize("model_type", sorted(DECODER_CONFIGS))
def test_greedy_matches_transformers_on_left_padded_batch(
    save_hf: Callable[..., Path], model_type: str
) -> None:
    ours, theirs = _both(save_hf(model_type))
    mine, reference = _generate_both(ours, theirs, **_prompts(), max_new_tokens=12)
    assert mine.shape == (3, 18)
    assert torch.equal(mine, reference)


@pytest.mark.parametrize("model_type", sorted(DECODER_CONFIGS))
def test_cached_decoding_equals_full_forward(save_hf: Callable[..., Path], model_type: str) -> None:
    ours, theirs = _both(save_hf(model_type))
    prompts = _prompts()
    sequence = ours.generate(**prompts, max_new_tokens=6, eos_token_id=None)
    attention_mask = torch.cat([prompts["attention_mask"], torch.ones(3, 6, dtype=torch.long)], dim=-1)
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        full = ours(sequence, attention_mask=attention_mask, position_ids=position_ids).logits
        step = ours(
            sequence[:, :6],
            attention_mask=attention_mask[:, :6],
            position_ids=position_ids[:, :6],
            use_cache=True,
        )
        logits, past = [step.logits], step.past_key_values
        for index in range(6, 12):
            step = ours(
                sequence[:, index : index + 1],
                attention_mask=attention_mask[:, : index + 1],
                position_ids=position_ids[:, index : index + 1],
                past_key_values=past,
                use_cache=True,
            )
            logits.append(step.logits)
            past = step.past_key_values
        reference = theirs(sequence, attention_mask=attention_mask, position_ids=position_ids).logits
    torch.testing.assert_close(torch.cat(logits, dim=1), full, atol=1e-5, rtol=0)
    torch.testing.assert_close(full, reference, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "options",
    [
        {"do_sample": True},
        {"do_sample": True, "temperature": 0.7, "top_k": 10},
        {"do_sample": True, "top_p": 0.8, "top_k": 0},
        {"do_sample": True, "temperature": 1.3, "top_k": 20, "top_p": 0.9, "repetition_penalty": 1.2},
    ],
    ids=str,
)
def test_sampling_is_seeded_and_matches_transformers(save_hf: Callable[..., Path], options: dict) -> None:
    ours, theirs = _both(save_hf("llama"))
    prompts = _prompts()
    mine, reference = _generate_both(ours, theirs, seed=11, **prompts, max_new_tokens=10, **options)
    assert torch.equal(mine, reference)
    torch.manual_seed(11)
    assert torch.equal(ours.generate(**prompts, max_new_tokens=10, **options), mine)
    first = ours.generate(**prompts, max_new_tokens=10, generator=torch.Generator().manual_seed(5), **options)
    again = ours.generate(**prompts, max_new_tokens=10, generator=torch.Generator().manual_seed(5), **options)
    assert torch.equal(first, again)


def test_eos_stops_each_sequence_and_pads_it(save_hf: Callable[..., Path]) -> None:
    ours, theirs = _both(save_hf("llama"))
    prompts = _prompts()
    free = ours.generate(**prompts, max_new_tokens=10, eos_token_id=None)
    eos = int(free[0, 8])  # the third new token of the first sequence
    first_stop = 8 if eos not in free[0, 6:8].tolist() else int((free[0, 6:] == eos).nonzero()[0]) + 6
    mine, reference = _generate_both(ours, theirs, **prompts, max_new_tokens=10, eos_token_id=eos)
    assert torch.equal(mine, reference)
    assert int(mine[0, first_stop]) == eos
    assert (mine[0, first_stop + 1 :] == 0).all()  # finished sequences are padded with pad_token_id
    several = [eos, int(free[1, 7])]
    mine, reference = _generate_both(ours, theirs, **prompts, max_new_tokens=10, eos_token_id=several)
    assert torch.equal(mine, reference)


def test_generation_ends_when_every_sequence_is_finished(save_hf: Callable[..., Path]) -> None:
    ours, theirs = _both(save_hf("llama"))
    prompt = {"input_ids": torch.tensor([[5, 6, 7]])}
    free = ours.generate(**prompt, max_new_tokens=8, eos_token_id=None)
    eos = int(free[0, 4])
    mine, reference = _generate_both(ours, theirs, **prompt, max_new_tokens=8, eos_token_id=eos)
    assert torch.equal(mine, reference)
    assert int(mine[0, -1]) == eos and mine.shape[1] <= 5


def test_min_new_tokens_and_min_length_suppress_eos(save_hf: Callable[..., Path]) -> None:
    ours, theirs = _both(save_hf("llama"))
    prompts = _prompts()
    free = ours.generate(**prompts, max_new_tokens=8, eos_token_id=None)
    eos = int(free[0, 6])  # would stop the first sequence immediately
    for options in ({"min_new_tokens": 4}, {"min_length": 9}, {"min_new_tokens": 3, "min_length": 20}):
        mine, reference = _generate_both(
            ours, theirs, **prompts, max_new_tokens=8, eos_token_id=eos, **options
        )
        assert torch.equal(mine, reference)
        assert eos not in mine[0, 6:9].tolist()


@pytest.mark.parametrize("penalty", [1.5, 0.7])
def test_repetition_penalty_matches_transformers(save_hf: Callable[..., Path], penalty: float) -> None:
    ours, theirs = _both(save_hf("llama"))
    mine, reference = _generate_both(
        ours, theirs, **_prompts(), max_new_tokens=12, repetition_penalty=penalty
    )
    assert torch.equal(mine, reference)
    plain = ours.generate(**_prompts(), max_new_tokens=12)
    assert not torch.equal(mine, plain)


@pytest.mark.parametrize(
    "rope",
    [
        {"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0},
        {"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0},
        {
            "rope_type": "llama3",
            "factor": 4.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8,
            "rope_theta": 10000.0,
        },
    ],
    ids=lambda rope: rope["rope_type"],
)
def test_rope_scaling_generation_matches_transformers(save_hf: Callable[..., Path], rope: dict) -> None:
    # max_position_embeddings=8: generation runs past it, so dynamic NTK recomputes its frequencies.
    ours, theirs = _both(save_hf("llama", rope_parameters=rope, max_position_embeddings=8))
    mine, reference = _generate_both(ours, theirs, **_prompts(), max_new_tokens=10)
    assert torch.equal(mine, reference)


class RecordingStreamer:
    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.ended = 0

    def put(self, value: torch.Tensor) -> None:
        self.calls.append(value.tolist())

    def end(self) -> None:
        self.ended += 1


def test_streamer_receives_the_same_tokens_as_transformers(save_hf: Callable[..., Path]) -> None:
    ours, theirs = _both(save_hf("llama"))
    prompt = {"input_ids": torch.tensor([[5, 6, 7, 8]])}
    mine, reference = RecordingStreamer(), RecordingStreamer()
    result = ours.generate(**prompt, max_new_tokens=6, eos_token_id=None, streamer=mine)
    theirs.generate(**prompt, max_new_tokens=6, eos_token_id=None, streamer=reference)
    assert mine.calls == reference.calls
    assert mine.ended == reference.ended == 1
    assert [token for call in mine.calls[1:] for token in call] == result[0, 4:].tolist()


def test_text_iterator_streamer_matches_transformers(tmp_path: Path, save_hf: Callable[..., Path]) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    from autohub_core import PreTrainedTokenizer

    vocab = {f"w{index}": index for index in range(99)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="w0"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.save(str(tmp_path / "tokenizer.json"))
    tokenizers = (
        PreTrainedTokenizer(tokenizer_file=tmp_path / "tokenizer.json"),
        transformers.PreTrainedTokenizerFast(tokenizer_file=str(tmp_path / "tokenizer.json")),
    )
    ours, theirs = _both(save_hf("llama"))
    prompt = {"input_ids": torch.tensor([[5, 6, 7, 8]])}
    texts = []
    for model, tokenizer, streamer_class in (
        (ours, tokenizers[0], TextIteratorStreamer),
        (theirs, tokenizers[1], transformers.TextIteratorStreamer),
    ):
        streamer = streamer_class(tokenizer, skip_prompt=True, timeout=30)
        kwargs = {**prompt, "max_new_tokens": 7, "eos_token_id": None, "streamer": streamer}
        thread = threading.Thread(target=model.generate, kwargs=kwargs)
        thread.start()
        texts.append(list(streamer))
        thread.join()
    assert texts[0] == texts[1]
    assert "".join(texts[0]).split() == [f"w{i}" for i in ours.generate(**prompt, max_new_tokens=7)[0, 4:]]


def test_gpt2_greedy_matches_transformers(save_hf: Callable[..., Path]) -> None:
    ours, theirs = _both(save_hf("gpt2"))
    prompts = _prompts(pad_token_id=50)
    mine, reference = _generate_both(ours, theirs, **prompts, max_new_tokens=10, pad_token_id=50)
    assert torch.equal(mine, reference)


def test_t5_greedy_matches_transformers(save_hf: Callable[..., Path]) -> None:
    ours, theirs = _both(save_hf("t5"), seq2seq=True)
    prompts = _prompts()
    mine, reference = _generate_both(ours, theirs, **prompts, max_new_tokens=9)
    assert mine.shape[0] == 3 and mine[0, 0] == 0  # decoder_start_token_id
    assert torch.equal(mine, reference)
    encoder_outputs = ours.get_encoder()(**prompts, return_dict=True)
    again = ours.generate(
        attention_mask=prompts["attention_mask"], encoder_outputs=encoder_outputs, max_new_tokens=9
    )
    assert torch.equal(again, mine)


# -- GenerationConfig ------------------------------------------------------------------------------


def test_generation_config_comes_from_the_checkpoint(tmp_path: Path, save_hf: Callable[..., Path]) -> None:
    directory = save_hf("llama")
    model = AutoModelForCausalLM.from_pretrained(directory)
    config = model.generation_config
    assert (config.eos_token_id, config.pad_token_id, config.bos_token_id) == (2, 0, 1)
    assert config.max_length is None and config.top_k == 50 and config.do_sample is False
    custom = GenerationConfig(max_new_tokens=3, eos_token_id=[2, 4], custom_key="kept")
    custom.save_pretrained(tmp_path)
    document = json.loads((tmp_path / "generation_config.json").read_text())
    assert document == {"max_new_tokens": 3, "eos_token_id": [2, 4], "custom_key": "kept"}
    loaded = GenerationConfig.from_pretrained(tmp_path)
    assert loaded == custom and loaded.custom_key == "kept"
    assert transformers.GenerationConfig.from_pretrained(tmp_path).max_new_tokens == 3
    model.generation_config = loaded
    assert model.generate(torch.tensor([[5, 6]]), eos_token_id=None).shape == (1, 5)
    assert model.generate(torch.tensor([[5, 6]]), max_new_tokens=1).shape == (1, 3)


def test_generation_config_round_trips_through_save_pretrained(
    tmp_path: Path, save_hf: Callable[..., Path]
) -> None:
    model = AutoModelForCausalLM.from_pretrained(save_hf("llama"))
    model.generation_config = GenerationConfig(max_new_tokens=2, eos_token_id=[2, 7], pad_token_id=0)
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert reloaded.generation_config.max_new_tokens == 2
    assert reloaded.generation_config.eos_token_id == [2, 7]
    theirs = transformers.AutoModelForCausalLM.from_pretrained(tmp_path)
    assert theirs.generation_config.max_new_tokens == 2 and theirs.generation_config.eos_token_id == [2, 7]
    assert reloaded.generate(torch.tensor([[5, 6]])).shape[1] <= 4


def test_default_and_explicit_lengths(save_hf: Callable[..., Path]) -> None:
    ours, theirs = _both(save_hf("llama"))
    prompt = {"input_ids": torch.tensor([[5, 6, 7]])}
    for options, length in (({}, 23), ({"max_length": 20}, 20), ({"max_new_tokens": 4, "max_length": 40}, 7)):
        mine, reference = _generate_both(ours, theirs, **prompt, eos_token_id=None, **options)
        assert mine.shape == (1, length) and torch.equal(mine, reference)


def test_refused_arguments(save_hf: Callable[..., Path]) -> None:
    model = AutoModelForCausalLM.from_pretrained(save_hf("llama"))
    prompt = torch.tensor([[5, 6, 7]])
    with pytest.raises(GenerationError, match="num_beams"):
        model.generate(prompt, num_beams=2, do_sample=True)
    with pytest.raises(GenerationError, match="no_such_option"):
        model.generate(prompt, no_such_option=1)
    with pytest.raises(GenerationError, match="temperature"):
        model.generate(prompt, do_sample=True, temperature=0.0)


# -- chat templates --------------------------------------------------------------------------------

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
LLAMA2 = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] | trim + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] | trim + ' ' + eos_token }}{% endif %}"
    "{% endfor %}"
)
TOOLS = (
    "{%- if tools %}Tools: {{ tools | tojson(indent=2) }}\n{%- endif %}\n"
    "{%- for message in messages %}\n  {{- message.role }}: {{ message.content | tojson }}\n{% endfor %}\n"
    "{%- if add_generation_prompt %}assistant:{% endif %}{{ custom_note | default('') }}"
    "{{ strftime_now('%Y') }}"
)
MESSAGES = [
    {"role": "user", "content": "Héllo, wörld! 数字 😀"},
    {"role": "assistant", "content": "  Hi there  "},
    {"role": "user", "content": 'Say "quotes" & <tags>'},
]


@pytest.fixture(scope="module")
def chat_tokenizers(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., tuple]:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    from autohub_core import AutoTokenizer

    def load(chat_template: object, as_file: bool = False) -> tuple:
        directory = tmp_path_factory.mktemp("chat")
        backend = Tokenizer(models.BPE(unk_token="<unk>"))
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        trainer = trainers.BpeTrainer(
            vocab_size=400,
            special_tokens=["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
        backend.train_from_iterator([m["content"] for m in MESSAGES] * 5 + ["user assistant"], trainer)
        backend.save(str(directory / "tokenizer.json"))
        config = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "</s>"}
        if as_file:
            (directory / "chat_template.jinja").write_text(chat_template)
        else:
            config["chat_template"] = chat_template
        (directory / "tokenizer_config.json").write_text(json.dumps(config))
        return AutoTokenizer.from_pretrained(directory), transformers.AutoTokenizer.from_pretrained(directory)

    return load


@pytest.mark.parametrize("template", [CHATML, LLAMA2, TOOLS], ids=["chatml", "llama2", "tools"])
@pytest.mark.parametrize("add_generation_prompt", [False, True])
def test_chat_template_output_matches_transformers(
    chat_tokenizers: Callable[..., tuple], template: str, add_generation_prompt: bool
) -> None:
    ours, theirs = chat_tokenizers(template)
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"city": "string"}}}]
    for kwargs in ({}, {"tools": tools, "custom_note": " (note)"}):
        text = ours.apply_chat_template(
            MESSAGES, add_generation_prompt=add_generation_prompt, tokenize=False, **kwargs
        )
        expected = theirs.apply_chat_template(
            MESSAGES, add_generation_prompt=add_generation_prompt, tokenize=False, **kwargs
        )
        assert text == expected
    encoded = ours.apply_chat_template(MESSAGES, add_generation_prompt=add_generation_prompt)
    reference = theirs.apply_chat_template(MESSAGES, add_generation_prompt=add_generation_prompt)
    assert encoded["input_ids"] == reference["input_ids"]
    assert encoded["attention_mask"] == reference["attention_mask"]
    ids = ours.apply_chat_template(MESSAGES, return_dict=False)
    assert ids == theirs.apply_chat_template(MESSAGES, return_dict=False)
    batch = [MESSAGES, MESSAGES[:1]]
    tensors = ours.apply_chat_template(batch, padding=True, return_tensors="pt")
    expected_tensors = theirs.apply_chat_template(batch, padding=True, return_tensors="pt")
    assert torch.equal(tensors["input_ids"], expected_tensors["input_ids"])


def test_chat_template_sources_and_errors(chat_tokenizers: Callable[..., tuple]) -> None:
    from autohub_core import TokenizerError

    ours, theirs = chat_tokenizers(CHATML, as_file=True)
    assert ours.apply_chat_template(MESSAGES, tokenize=False) == theirs.apply_chat_template(
        MESSAGES, tokenize=False
    )
    named = [{"name": "default", "template": CHATML}, {"name": "strict", "template": LLAMA2}]
    ours, theirs = chat_tokenizers(named)
    for name in (None, "strict"):
        assert ours.apply_chat_template(MESSAGES, chat_template=name, tokenize=False) == (
            theirs.apply_chat_template(MESSAGES, chat_template=name, tokenize=False)
        )
    prefill = [*MESSAGES[:2], {"role": "user", "content": "Continue this"}]
    assert ours.apply_chat_template(
        prefill, chat_template=CHATML, continue_final_message=True, tokenize=False
    ) == (
        theirs.apply_chat_template(prefill, chat_template=CHATML, continue_final_message=True, tokenize=False)
    )
    with pytest.raises(TokenizerError, match="alternate"):
        ours.apply_chat_template(MESSAGES[1:], chat_template="strict")
    with pytest.raises(TokenizerError, match="chat_template"):
        chat_tokenizers(None)[0].apply_chat_template(MESSAGES)
