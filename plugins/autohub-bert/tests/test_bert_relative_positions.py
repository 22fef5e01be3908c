"""BERT with ``position_embedding_type="relative_key"`` / ``"relative_key_query"``, against transformers.

transformers 5 removed these types (it keeps the config key and ignores it), so the oracle is
transformers 5's BERT with transformers 4.57's relative-position code put back: a
``distance_embedding`` in each self-attention module, its distance terms added to the scores
(:func:`_relative_attention`, registered as an attention implementation), and no absolute position
embeddings. That reference was checked against transformers 4.57.6 itself on every head (outputs,
attention weights and gradients within 5e-7); ``data/relative_positions_transformers_4_57.json``
keeps outputs transformers 4.57.6 computed (weights set by :func:`fill_weights`) so the semantics
stay pinned to it. Both save directions, forward and backward, with padding.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
import torch
import transformers
from safetensors.torch import load_file
from torch import nn
from transformers.masking_utils import eager_mask

import autohub_core as ah

TINY = {
    "vocab_size": 99,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "max_position_embeddings": 24,
}
TYPES = ("relative_key", "relative_key_query")
RELATIVE = "autohub_test_bert_relative_v4"

# transformers class -> (autohub Auto class, extra config)
HEADS: dict[str, tuple[Any, dict[str, Any]]] = {
    "BertModel": (ah.AutoModel, {}),
    "BertForPreTraining": (ah.AutoModelForPreTraining, {}),
    "BertForMaskedLM": (ah.AutoModelForMaskedLM, {}),
    "BertLMHeadModel": (ah.AutoModelForCausalLM, {"is_decoder": True}),
    "BertForSequenceClassification": (ah.AutoModelForSequenceClassification, {"num_labels": 3}),
    "BertForTokenClassification": (ah.AutoModelForTokenClassification, {"num_labels": 5}),
    "BertForQuestionAnswering": (ah.AutoModelForQuestionAnswering, {}),
    "BertForMultipleChoice": (ah.AutoModelForMultipleChoice, {}),
    "BertForNextSentencePrediction": (ah.AutoModelForNextSentencePrediction, {}),
}


def _relative_attention(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """transformers 4.57's ``BertSelfAttention`` scores: (QKᵀ + distance terms) / sqrt(d) + mask."""
    scores = torch.matmul(query, key.transpose(-1, -2))
    if hasattr(module, "distance_embedding"):
        query_length, key_length = query.shape[2], key.shape[2]
        left = torch.arange(key_length - query_length, key_length, dtype=torch.long).view(-1, 1)
        right = torch.arange(key_length, dtype=torch.long).view(1, -1)
        embedding = module.distance_embedding(left - right + module.config.max_position_embeddings - 1)
        scores = scores + torch.einsum("bhld,lrd->bhlr", query, embedding)
        if module.config.position_embedding_type == "relative_key_query":
            scores = scores + torch.einsum("bhrd,lrd->bhlr", key, embedding)
    scores = scores * scaling
    if attention_mask is not None:
        scores = scores + attention_mask
    weights = nn.functional.dropout(torch.softmax(scores, dim=-1), p=dropout, training=module.training)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights


transformers.AttentionInterface.register(RELATIVE, _relative_attention)
transformers.AttentionMaskInterface.register(RELATIVE, eager_mask)


def reference_model(class_name: str, position_embedding_type: str, **overrides: Any) -> nn.Module:
    """A seeded transformers model with transformers 4's relative positions put back."""
    config = transformers.BertConfig(
        **{**TINY, **HEADS[class_name][1], **overrides}, position_embedding_type=position_embedding_type
    )
    torch.manual_seed(0)
    model = getattr(transformers, class_name)._from_config(config, attn_implementation=RELATIVE)
    for module in model.modules():
        if isinstance(module, transformers.models.bert.modeling_bert.BertSelfAttention):
            module.distance_embedding = nn.Embedding(2 * config.max_position_embeddings - 1, 8)
            nn.init.normal_(module.distance_embedding.weight, std=0.5)
        elif isinstance(module, transformers.models.bert.modeling_bert.BertEmbeddings):
            module.position_embeddings.register_forward_hook(lambda _m, _i, out: torch.zeros_like(out))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.normal_(0.0, 0.1)
    return model.eval()


def batch(class_name: str) -> dict[str, torch.Tensor]:
    """Right padding (row 1), and left padding (row 2) for the bidirectional models."""
    generator = torch.Generator().manual_seed(7)
    input_ids = torch.randint(1, TINY["vocab_size"], (3, 9), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 6:] = 0
    if class_name != "BertLMHeadModel":
        attention_mask[2, :3] = 0
    input_ids[attention_mask == 0] = 0
    token_type_ids = torch.zeros_like(input_ids)
    token_type_ids[:, 5:] = 1
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
    if class_name == "BertForMultipleChoice":  # (batch, choices, seq)
        inputs = {k: v.unsqueeze(0).expand(2, -1, -1).contiguous() for k, v in inputs.items()}
    return inputs


def first_output(output: Any) -> torch.Tensor:
    return output[0] if isinstance(output[0], torch.Tensor) else output[1]


@pytest.mark.parametrize("position_embedding_type", TYPES)
@pytest.mark.parametrize("class_name", sorted(HEADS))
def test_every_head_matches_transformers_both_directions(
    tmp_path: pathlib.Path, class_name: str, position_embedding_type: str
) -> None:
    reference = reference_model(class_name, position_embedding_type)
    reference.save_pretrained(tmp_path / "reference")
    model, info = HEADS[class_name][0].from_pretrained(tmp_path / "reference", output_loading_info=True)
    assert type(model).__name__ == class_name
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    assert model.base_model.encoder.layer[0].attention.self.distance_embedding.weight.shape == (47, 8)
    inputs = batch(class_name)
    with torch.no_grad():
        expected = reference(**inputs, output_hidden_states=True, output_attentions=True)
        actual = model(**inputs, output_hidden_states=True, output_attentions=True)
        torch.testing.assert_close(model(**inputs)[0], first_output(expected), atol=1e-5, rtol=0)
    torch.testing.assert_close(first_output(actual), first_output(expected), atol=1e-5, rtol=0)
    for ours, theirs in zip(actual.hidden_states, expected.hidden_states, strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
    for ours, theirs in zip(actual.attentions, expected.attentions, strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)

    model.save_pretrained(tmp_path / "ours")
    reloaded = reference_model(class_name, position_embedding_type)
    result = reloaded.load_state_dict(load_file(tmp_path / "ours" / "model.safetensors"), strict=False)
    assert result.unexpected_keys == []
    assert all("decoder" in name for name in result.missing_keys), result  # tied output weights
    with torch.no_grad():
        torch.testing.assert_close(
            first_output(reloaded(**inputs)), first_output(expected), atol=1e-5, rtol=0
        )


@pytest.mark.parametrize("position_embedding_type", TYPES)
@pytest.mark.parametrize(
    "class_name", ["BertForMaskedLM", "BertLMHeadModel", "BertForSequenceClassification"]
)
def test_gradients_match_transformers(
    tmp_path: pathlib.Path, class_name: str, position_embedding_type: str
) -> None:
    reference = reference_model(class_name, position_embedding_type, hidden_dropout_prob=0.0)
    reference.save_pretrained(tmp_path)
    model = HEADS[class_name][0].from_pretrained(tmp_path)
    inputs = batch(class_name)
    labels = torch.tensor([2, 0, 1]) if class_name == "BertForSequenceClassification" else inputs["input_ids"]
    for network in (model, reference):
        network.train()
        torch.manual_seed(3)  # the same attention-dropout masks in both
        network(**inputs, labels=labels).loss.backward()
    grads = {name: p.grad for name, p in reference.named_parameters() if p.grad is not None}
    assert any("distance_embedding" in name for name in grads)
    for name, parameter in model.named_parameters():
        if name in grads:
            torch.testing.assert_close(parameter.grad, grads[name], atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize("implementation", ["eager", "sdpa", "flex_attention"])
def test_every_implementation_computes_the_explicit_scores(
    tmp_path: pathlib.Path, implementation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The distance terms need explicit scores: each implementation runs the eager path, as transformers 4 did."""
    reference = reference_model("BertModel", "relative_key_query")
    reference.save_pretrained(tmp_path)
    model = ah.AutoModel.from_pretrained(tmp_path, attn_implementation=implementation)
    assert model.config._attn_implementation == implementation

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("scaled_dot_product_attention used for relative positions")

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", refuse)
    inputs = batch("BertModel")
    with torch.no_grad():
        torch.testing.assert_close(
            model(**inputs).last_hidden_state, reference(**inputs).last_hidden_state, atol=1e-5, rtol=0
        )


@pytest.mark.parametrize("position_embedding_type", TYPES)
def test_kv_cache_logits_equal_full_recompute(tmp_path: pathlib.Path, position_embedding_type: str) -> None:
    """A decoder's distance terms at each cached step are those of the full sequence (query = last position)."""
    reference_model("BertLMHeadModel", position_embedding_type).save_pretrained(tmp_path)
    model = ah.AutoModelForCausalLM.from_pretrained(tmp_path)
    inputs = batch("BertLMHeadModel")
    input_ids, attention_mask = inputs["input_ids"], inputs["attention_mask"]
    with torch.no_grad():
        full = model(input_ids, attention_mask).logits
        prefix = model(input_ids[:, :5], attention_mask[:, :5], use_cache=True)
        past, steps = prefix.past_key_values, [prefix.logits]
        for position in range(5, input_ids.shape[1]):
            step = model(
                input_ids[:, position : position + 1],
                attention_mask[:, : position + 1],
                past_key_values=past,
                use_cache=True,
            )
            past = step.past_key_values
            steps.append(step.logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=0)


GOLDEN = pathlib.Path(__file__).parent / "data" / "relative_positions_transformers_4_57.json"


def fill_weights(model: nn.Module) -> None:
    """Deterministic weights: the i-th floating tensor of the sorted state dict gets sin(0.37·n + i)."""
    with torch.no_grad():
        for index, (_, tensor) in enumerate(sorted(model.state_dict().items())):
            if tensor.is_floating_point():
                values = torch.sin(torch.arange(tensor.numel(), dtype=torch.float64) * 0.37 + index)
                tensor.copy_(values.reshape(tensor.shape))


@pytest.mark.parametrize("case", sorted(json.loads(GOLDEN.read_text())))
def test_outputs_of_transformers_4_57(case: str) -> None:
    """The numbers transformers 4.57.6 (the last version with these types) gave for the same weights."""
    expected = json.loads(GOLDEN.read_text())[case]
    class_name, position_embedding_type = case.split("-")
    decoder = class_name.endswith(("LMHeadModel", "CausalLM"))
    config = ah.AutoConfig.for_model(
        "bert",
        vocab_size=40,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=24,
        max_position_embeddings=12,
        position_embedding_type=position_embedding_type,
        is_decoder=decoder,
        pad_token_id=0,
    )
    model = (ah.AutoModelForCausalLM if decoder else ah.AutoModel).from_config(config).eval()
    assert type(model).__name__ == class_name
    fill_weights(model)
    inputs = torch.tensor(expected["input_ids"]), torch.tensor(expected["attention_mask"])
    with torch.no_grad():
        output = model(*inputs, output_attentions=True)
    reference = torch.tensor(expected["output"]).view(expected["shape"])
    torch.testing.assert_close(output[0], reference, atol=1e-5, rtol=0)
    # The attention weights are where the distance terms show (near one-hot with these weights).
    weights = torch.tensor(expected["attentions"]).view(expected["attentions_shape"])
    torch.testing.assert_close(torch.stack(output.attentions), weights, atol=1e-5, rtol=0)
