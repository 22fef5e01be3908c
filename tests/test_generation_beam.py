"""Beam search parity with transformers' generate(): beams, length penalty, early stopping,
returned sequences, EOS and padding, processors, left-padded batches, encoder-decoder, errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import transformers

from autohub_core import AutoModelForCausalLM, AutoModelForSeq2SeqLM, GenerationError
from autohub_core.generation import TextStreamer, _reorder_rows

TINY_CONFIGS: dict[str, tuple[str, dict]] = {
    "llama": (
        "LlamaForCausalLM",
        {
            "vocab_size": 99,
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 64,
            "pad_token_id": 0,
            "bos_token_id": 1,
            "eos_token_id": 2,
        },
    ),
    "gpt2": (
        "GPT2LMHeadModel",
        {"vocab_size": 99, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 64, "pad_token_id": 50},
    ),
    "t5": (
        "T5ForConditionalGeneration",
        {
            "vocab_size": 99,
            "d_model": 32,
            "d_kv": 8,
            "d_ff": 37,
            "num_layers": 2,
            "num_heads": 4,
            "decoder_start_token_id": 0,
        },
    ),
}
PAD = {"llama": 0, "gpt2": 50, "t5": 0}
NEW_TOKENS = 10

Pair = tuple[torch.nn.Module, torch.nn.Module]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Pair]:
    """(autohub model, transformers model) of a tiny random checkpoint saved by transformers (cached)."""
    cache: dict[str, Pair] = {}

    def load(model_type: str) -> Pair:
        if model_type not in cache:
            class_name, values = TINY_CONFIGS[model_type]
            config = transformers.AutoConfig.for_model(model_type, **values)
            torch.manual_seed(0)
            directory = tmp_path_factory.mktemp(model_type)
            getattr(transformers, class_name)(config).eval().save_pretrained(directory)
            auto, reference = (
                (AutoModelForSeq2SeqLM, transformers.AutoModelForSeq2SeqLM)
                if model_type == "t5"
                else (AutoModelForCausalLM, transformers.AutoModelForCausalLM)
            )
            cache[model_type] = (auto.from_pretrained(directory), reference.from_pretrained(directory).eval())
        return cache[model_type]

    return load


def _prompts(pad_token_id: int) -> dict[str, torch.Tensor]:
    """Three prompts of lengths 6, 3 and 1, left padded."""
    generator = torch.Generator().manual_seed(7)
    input_ids = torch.randint(3, 99, (3, 6), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, :3] = 0
    attention_mask[2, :5] = 0
    input_ids[attention_mask == 0] = pad_token_id
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def _prompt_length(model_type: str) -> int:
    return 1 if model_type == "t5" else 6  # t5 generates after decoder_start_token_id


_EOS_CACHE: dict[str, int] = {}


def _mid_beam_eos(model: torch.nn.Module, model_type: str) -> int:
    """The third new token of the best beam of the first prompt: an EOS id that ends beams early."""
    if model_type not in _EOS_CACHE:
        prompts = _prompts(PAD[model_type])
        free = model.generate(**prompts, max_new_tokens=NEW_TOKENS, num_beams=3, eos_token_id=None)
        _EOS_CACHE[model_type] = int(free[0, _prompt_length(model_type) + 2])
    return _EOS_CACHE[model_type]


def _assert_same(ours: torch.nn.Module, theirs: torch.nn.Module, **kwargs: object) -> torch.Tensor:
    mine = ours.generate(**kwargs)
    reference = theirs.generate(**kwargs)
    assert mine.shape == reference.shape
    assert torch.equal(mine, reference)
    return mine


BEAM_OPTIONS = {
    "beams2": {"num_beams": 2},
    "beams3": {"num_beams": 3},
    "beams4": {"num_beams": 4},
    "length_penalty0": {"num_beams": 3, "length_penalty": 0.0},
    "length_penalty1": {"num_beams": 3, "length_penalty": 1.0},
    "length_penalty2": {"num_beams": 3, "length_penalty": 2.0},
    "length_penalty-1": {"num_beams": 3, "length_penalty": -1.0},
    "early_stopping_true": {"num_beams": 3, "early_stopping": True},
    "early_stopping_false": {"num_beams": 3, "early_stopping": False},
    "early_stopping_never": {"num_beams": 3, "early_stopping": "never"},
    "never_length_penalty2": {"num_beams": 3, "early_stopping": "never", "length_penalty": 2.0},
    "never_length_penalty0": {"num_beams": 3, "early_stopping": "never", "length_penalty": 0.0},
    "return_sequences2": {"num_beams": 3, "num_return_sequences": 2},
    "return_all_beams": {"num_beams": 4, "num_return_sequences": 4, "early_stopping": True},
    "repetition_penalty": {"num_beams": 3, "repetition_penalty": 1.7},
    "no_repeat_ngram": {"num_beams": 3, "no_repeat_ngram_size": 2},
    "min_new_tokens": {"num_beams": 3, "min_new_tokens": 5},
    "no_cache": {"num_beams": 3, "use_cache": False},
}


@pytest.mark.parametrize("options", list(BEAM_OPTIONS.values()), ids=list(BEAM_OPTIONS))
@pytest.mark.parametrize("model_type", ["llama", "gpt2", "t5"])
def test_beam_search_with_mid_beam_eos_matches_transformers(
    models: Callable[[str], Pair], model_type: str, options: dict
) -> None:
    ours, theirs = models(model_type)
    eos = _mid_beam_eos(ours, model_type)
    prompts = _prompts(PAD[model_type])
    mine = _assert_same(
        ours,
        theirs,
        **prompts,
        max_new_tokens=NEW_TOKENS,
        eos_token_id=eos,
        pad_token_id=PAD[model_type],
        **options,
    )
    assert mine.shape[0] == 3 * options.get("num_return_sequences", 1)


@pytest.mark.parametrize("model_type", ["llama", "gpt2", "t5"])
def test_beam_search_without_eos_runs_to_max_length(models: Callable[[str], Pair], model_type: str) -> None:
    ours, theirs = models(model_type)
    for options in ({"num_beams": 2}, {"num_beams": 4, "num_return_sequences": 2, "length_penalty": 2.0}):
        mine = _assert_same(
            ours, theirs, **_prompts(PAD[model_type]), max_new_tokens=NEW_TOKENS, eos_token_id=None, **options
        )
        assert mine.shape[1] == _prompt_length(model_type) + NEW_TOKENS
    greedy = ours.generate(**_prompts(PAD[model_type]), max_new_tokens=NEW_TOKENS, eos_token_id=None)
    beams = ours.generate(
        **_prompts(PAD[model_type]), max_new_tokens=NEW_TOKENS, eos_token_id=None, num_beams=4
    )
    assert not torch.equal(greedy, beams)


@pytest.mark.parametrize("model_type", ["llama", "gpt2"])
def test_finished_beams_are_padded_like_transformers(models: Callable[[str], Pair], model_type: str) -> None:
    ours, theirs = models(model_type)
    eos = _mid_beam_eos(ours, model_type)
    mine = _assert_same(
        ours,
        theirs,
        **_prompts(PAD[model_type]),
        max_new_tokens=NEW_TOKENS,
        eos_token_id=eos,
        pad_token_id=PAD[model_type],
        num_beams=3,
        num_return_sequences=3,
        length_penalty=0.0,  # no bonus for length: hypotheses that end early rank
    )
    # transformers fills with `pad_token_id or eos_token_id`: a pad id of 0 gives way to the EOS id.
    fill = PAD[model_type] or eos
    ending_early = 0
    for row in mine[:, 6:].tolist():
        if eos in row[:-1]:
            end = row.index(eos)
            assert row[end + 1 :] == [fill] * (len(row) - end - 1)
            ending_early += 1
    assert ending_early > 0


def test_several_eos_ids_and_batch_of_left_padded_prompts(models: Callable[[str], Pair]) -> None:
    ours, theirs = models("llama")
    prompts = _prompts(0)
    free = ours.generate(**prompts, max_new_tokens=NEW_TOKENS, num_beams=3, eos_token_id=None)
    several = [int(free[0, 8]), int(free[1, 10]), int(free[2, 7])]
    mine = _assert_same(ours, theirs, **prompts, max_new_tokens=NEW_TOKENS, num_beams=4, eos_token_id=several)
    # The first prompt's best hypothesis ends on the first EOS id, the second's on the second one;
    # both are filled with the first EOS id (the pad id 0 gives way to it, as in transformers).
    assert mine[0, 8:].tolist() == [several[0]] * (mine.shape[1] - 8)
    assert int(mine[1, 10]) == several[1] and mine[1, 11:].tolist() == [several[0]] * (mine.shape[1] - 11)
    # Each prompt alone (no padding) gives its own row of the batch.
    for row in range(3):
        start = int((prompts["attention_mask"][row] == 0).sum())
        alone = ours.generate(
            prompts["input_ids"][row : row + 1, start:],
            max_new_tokens=NEW_TOKENS,
            num_beams=4,
            eos_token_id=several,
        )
        assert alone[0].tolist() == mine[row, start : start + alone.shape[1]].tolist()


def test_early_stopping_modes_take_as_many_steps_as_transformers(models: Callable[[str], Pair]) -> None:
    ours, theirs = models("llama")
    calls = {id(ours): 0, id(theirs): 0}

    def count(module: torch.nn.Module, args: object, output: object) -> None:
        calls[id(module)] += 1

    hooks = [ours.register_forward_hook(count), theirs.register_forward_hook(count)]
    steps = {}
    prompt = {
        "input_ids": torch.tensor([[40, 14, 15]]),
        "max_new_tokens": 16,
        "num_beams": 3,
        "eos_token_id": 62,
    }
    for early_stopping in (True, False, "never"):
        for length_penalty in (0.5, 1.0, 2.0):
            calls[id(ours)] = calls[id(theirs)] = 0
            options = {"early_stopping": early_stopping, "length_penalty": length_penalty}
            _assert_same(ours, theirs, **prompt, **options)
            assert calls[id(ours)] == calls[id(theirs)]
            steps[early_stopping, length_penalty] = calls[id(ours)]
    for hook in hooks:
        hook.remove()
    # The modes differ here: the heuristic of False stops before "never" does, True stops first.
    assert steps[True, 1.0] < steps[False, 1.0] < steps["never", 1.0] == 16


def test_max_length_and_default_length(models: Callable[[str], Pair]) -> None:
    ours, theirs = models("llama")
    prompt = {"input_ids": torch.tensor([[5, 6, 7]])}
    assert _assert_same(ours, theirs, **prompt, num_beams=3, max_length=9, eos_token_id=None).shape == (1, 9)
    assert _assert_same(ours, theirs, **prompt, num_beams=2, eos_token_id=None).shape == (1, 23)


def test_t5_beam_search_from_given_encoder_outputs(models: Callable[[str], Pair]) -> None:
    ours, theirs = models("t5")
    prompts = _prompts(0)
    eos = _mid_beam_eos(ours, "t5")
    options = {"max_new_tokens": NEW_TOKENS, "num_beams": 3, "num_return_sequences": 2, "eos_token_id": eos}
    mine = _assert_same(ours, theirs, **prompts, **options)
    assert (mine[:, 0] == 0).all()  # decoder_start_token_id
    encoder_outputs = ours.get_encoder()(**prompts, return_dict=True)
    again = ours.generate(
        attention_mask=prompts["attention_mask"], encoder_outputs=encoder_outputs, **options
    )
    assert torch.equal(again, mine)
    assert encoder_outputs.last_hidden_state.shape[0] == 3  # the caller's outputs are not expanded in place


def test_sampling_with_several_returned_sequences_matches_transformers(models: Callable[[str], Pair]) -> None:
    ours, theirs = models("llama")
    options = {"do_sample": True, "num_return_sequences": 2, "max_new_tokens": NEW_TOKENS, "top_k": 10}
    torch.manual_seed(3)
    mine = ours.generate(**_prompts(0), **options)
    torch.manual_seed(3)
    reference = theirs.generate(**_prompts(0), **options)
    assert mine.shape[0] == 6 and torch.equal(mine, reference)


def test_no_repeat_ngram_in_greedy_search_matches_transformers(models: Callable[[str], Pair]) -> None:
    ours, theirs = models("llama")
    for size in (1, 2, 3):
        _assert_same(ours, theirs, **_prompts(0), max_new_tokens=NEW_TOKENS, no_repeat_ngram_size=size)


def test_cache_reordering_selects_rows_of_nested_tuples() -> None:
    layer = tuple(torch.arange(4.0).view(4, 1, 1, 1) + offset for offset in (0, 10, 20, 30))
    reordered = _reorder_rows((layer, layer), torch.tensor([2, 2, 0, 3]))
    assert isinstance(reordered, tuple) and len(reordered) == 2 and len(reordered[0]) == 4
    assert reordered[1][3].flatten().tolist() == [32.0, 32.0, 30.0, 33.0]
    with pytest.raises(GenerationError, match="reorder"):
        _reorder_rows({"key": torch.zeros(1)}, torch.tensor([0]))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"num_beams": 2, "do_sample": True}, "beam sampling"),
        ({"num_beams": 2, "num_return_sequences": 3}, "cannot exceed num_beams"),
        ({"num_return_sequences": 2}, "needs beam search"),
        ({"num_beams": 0}, "'num_beams' = 0 is invalid: expected an integer >= 1"),
        ({"num_beams": 2, "early_stopping": "sometimes"}, "early_stopping"),
        ({"num_beams": 2, "length_penalty": "long"}, "length_penalty"),
        ({"num_beams": 2, "return_dict_in_generate": True}, "return_dict_in_generate"),
        ({"num_beams": 2, "output_scores": True}, "output_scores"),
        ({"num_beams": 2, "no_repeat_ngram_size": -1}, "no_repeat_ngram_size"),
        ({"num_beams": 2, "max_length": 3}, "max_length is 3"),
        ({"num_beams": 2, "streamer": TextStreamer(tokenizer=None)}, "streamer"),
    ],
)
def test_refused_beam_options(models: Callable[[str], Pair], options: dict, message: str) -> None:
    ours, _ = models("llama")
    with pytest.raises(GenerationError, match=message):
        ours.generate(torch.tensor([[5, 6, 7]]), **options)
