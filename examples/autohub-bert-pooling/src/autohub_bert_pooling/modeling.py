"""A sentence-embedding head over BERT: masked mean pooling, then L2 normalisation."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from autohub_bert.config import BertConfig
from autohub_bert.modeling import BertModel, BertPreTrainedModel
from autohub_core.outputs import ModelOutput

__all__ = ["BertForSentenceEmbedding", "SentenceEmbeddingOutput", "mean_pool"]


@dataclass
class SentenceEmbeddingOutput(ModelOutput):
    """``embeddings`` (batch, hidden): unit-length sentence vectors."""

    embeddings: torch.Tensor | None = None
    last_hidden_state: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


def mean_pool(hidden_states: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """Average the token vectors of each sequence, ignoring padding."""
    if attention_mask is None:
        return hidden_states.mean(dim=1)
    weights = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
    return (hidden_states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


class BertForSentenceEmbedding(BertPreTrainedModel):
    """BERT without the pooler; the sentence vector is the normalised mean of the last hidden states.

    It has no weights of its own, so any BERT checkpoint (base or head) loads into it.
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> SentenceEmbeddingOutput | tuple[torch.Tensor, ...]:
        outputs = self.bert(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
        )
        pooled = mean_pool(outputs.last_hidden_state, attention_mask)
        output = SentenceEmbeddingOutput(
            embeddings=F.normalize(pooled, p=2, dim=-1),
            last_hidden_state=outputs.last_hidden_state,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )
        return_dict = self.config.use_return_dict if return_dict is None else return_dict
        return output if return_dict else output.to_tuple()
