"""Wav2Vec2 models against transformers (the test oracle) on tiny random checkpoints shaped like
facebook/wav2vec2-base-960h (GroupNorm feature encoder, post-norm layers, no attention mask in its
extractor) and facebook/wav2vec2-large-960h-lv60-self (LayerNorm feature encoder, stable pre-norm
layers, attention masks): every head's outputs, losses and gradients, both save directions, the
old ``weight_g`` / ``weight_v`` checkpoints, adapters, and the typed errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import transformers
from safetensors.torch import load_file, save_file

from autohub_core import AutoModel
from autohub_core.auto import auto_class_for_task
from autohub_core.errors import (
    ConfigError,
    LabelError,
    ModelInputError,
    UnsupportedConfigError,
    UnsupportedFeatureError,
)
from autohub_wav2vec2 import modeling
from autohub_wav2vec2.config import Wav2Vec2Config

ATOL = 1e-5

#: wav2vec2-base-960h's config.json, shrunk (same keys and options, legacy keys included).
BASE_960H: dict[str, Any] = {
    "architectures": ["Wav2Vec2ForCTC"],
    "activation_dropout": 0.1,
    "apply_spec_augment": True,
    "attention_dropout": 0.1,
    "bos_token_id": 1,
    "conv_bias": False,
    "conv_dim": [8, 8, 8],
    "conv_kernel": [10, 3, 2],
    "conv_stride": [5, 2, 2],
    "ctc_loss_reduction": "sum",
    "ctc_zero_infinity": False,
    "do_stable_layer_norm": False,
    "eos_token_id": 2,
    "feat_extract_activation": "gelu",
    "feat_extract_dropout": 0.0,
    "feat_extract_norm": "group",
    "feat_proj_dropout": 0.1,
    "final_dropout": 0.1,
    "gradient_checkpointing": False,
    "hidden_act": "gelu",
    "hidden_dropout": 0.1,
    "hidden_dropout_prob": 0.1,
    "hidden_size": 16,
    "initializer_range": 0.02,
    "intermediate_size": 24,
    "layer_norm_eps": 1e-05,
    "layerdrop": 0.1,
    "mask_feature_length": 10,
    "mask_feature_prob": 0.0,
    "mask_time_length": 10,
    "mask_time_prob": 0.05,
    "model_type": "wav2vec2",
    "num_attention_heads": 2,
    "num_conv_pos_embedding_groups": 2,
    "num_conv_pos_embeddings": 16,
    "num_feat_extract_layers": 3,
    "num_hidden_layers": 2,
    "pad_token_id": 0,
    "vocab_size": 32,
    "num_labels": 3,
    "classifier_proj_size": 12,
    "tdnn_dim": [8, 8, 10],
    "tdnn_kernel": [3, 3, 1],
    "tdnn_dilation": [1, 2, 1],
    "xvector_output_dim": 6,
}
#: wav2vec2-large-960h-lv60-self's layout, shrunk; also the weighted layer sum, an odd positional
#: kernel, feature masking in SpecAugment and a mean, zero-infinity CTC loss.
LARGE_LV60: dict[str, Any] = {
    **BASE_960H,
    "conv_bias": True,
    "do_stable_layer_norm": True,
    "feat_extract_norm": "layer",
    "num_conv_pos_embeddings": 15,
    "mask_feature_prob": 0.25,
    "mask_feature_length": 2,
    "ctc_loss_reduction": "mean",
    "ctc_zero_infinity": True,
    "use_weighted_layer_sum": True,
}
LAYOUTS = {"base-960h": BASE_960H, "large-lv60": LARGE_LV60}
HEADS = {
    "base": "Wav2Vec2Model",
    "ctc": "Wav2Vec2ForCTC",
    "audio-classification": "Wav2Vec2ForSequenceClassification",
    "audio-frame-classification": "Wav2Vec2ForAudioFrameClassification",
    "audio-xvector": "Wav2Vec2ForXVector",
}
NO_DROPOUT = {
    "activation_dropout": 0.0,
    "attention_dropout": 0.0,
    "feat_proj_dropout": 0.0,
    "final_dropout": 0.0,
    "hidden_dropout": 0.0,
    "layerdrop": 0.0,
}
LENGTHS = (1600, 1100, 700)


def _audio() -> tuple[torch.Tensor, torch.Tensor]:
    """A zero-padded batch of three utterances of different lengths and its sample mask."""
    generator = torch.Generator().manual_seed(0)
    mask = torch.zeros(len(LENGTHS), max(LENGTHS), dtype=torch.long)
    for row, length in enumerate(LENGTHS):
        mask[row, :length] = 1
    return torch.randn(mask.shape, generator=generator) * mask, mask


def _frames(config: dict[str, Any], samples: int) -> int:
    for kernel, stride in zip(config["conv_kernel"], config["conv_stride"], strict=True):
        samples = (samples - kernel) // stride + 1
    return samples


def _labels(task: str, config: dict[str, Any]) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    batch = len(LENGTHS)
    if task == "ctc":
        labels = torch.randint(1, config["vocab_size"], (batch, 9), generator=generator)
        labels[1, 6:] = -100
        labels[2, 4:] = -100
        return labels
    if task == "audio-frame-classification":
        classes = torch.randint(
            0, config["num_labels"], (batch, _frames(config, max(LENGTHS))), generator=generator
        )
        return torch.nn.functional.one_hot(classes, config["num_labels"])
    return torch.randint(0, config["num_labels"], (batch,), generator=generator)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """(layout, task) -> a folder transformers saved a seeded random model of that head into."""
    folders = {}
    for layout, config in LAYOUTS.items():
        for task, class_name in HEADS.items():
            torch.manual_seed(0)
            model = getattr(transformers, class_name)(transformers.Wav2Vec2Config(**config))
            folder = tmp_path_factory.mktemp(f"{layout}-{task}")
            model.save_pretrained(folder)
            folders[layout, task] = folder
    return folders


def _pair(folder: Path, task: str, **kwargs: Any) -> tuple[torch.nn.Module, torch.nn.Module]:
    ours = auto_class_for_task(task).from_pretrained(folder, **kwargs)
    theirs = getattr(transformers, HEADS[task]).from_pretrained(folder, **kwargs)
    return ours, theirs.eval()


def _main_output(task: str) -> str:
    return "last_hidden_state" if task == "base" else "logits"


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("task", HEADS)
def test_outputs_match_transformers(layout: str, task: str, checkpoints: dict[tuple[str, str], Path]) -> None:
    """Each head's outputs, with and without the attention mask, the hidden states of every layer and
    (eager attention) the attention weights: <= 1e-5 from transformers'."""
    ours, theirs = _pair(checkpoints[layout, task], task, attn_implementation="eager")
    assert type(ours).__name__ == HEADS[task]
    audio, mask = _audio()
    for attention_mask in (None, mask):
        with torch.no_grad():
            expected = theirs(
                audio, attention_mask=attention_mask, output_hidden_states=True, output_attentions=True
            )
            actual = ours(
                audio, attention_mask=attention_mask, output_hidden_states=True, output_attentions=True
            )
        names = [_main_output(task)] + (["embeddings"] if task == "audio-xvector" else [])
        names += ["extract_features"] if task == "base" else []
        for name in names:
            torch.testing.assert_close(actual[name], expected[name], rtol=0, atol=ATOL, msg=name)
        for key in ("hidden_states", "attentions"):
            assert len(actual[key]) == len(expected[key])
            for mine, reference in zip(actual[key], expected[key], strict=True):
                torch.testing.assert_close(mine, reference, rtol=0, atol=ATOL, msg=key)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("task", [task for task in HEADS if task != "base"])
def test_losses_and_gradients_match_transformers(
    layout: str, task: str, checkpoints: dict[tuple[str, str], Path]
) -> None:
    """Training mode with SpecAugment (the same numpy seed on both sides): the loss of every head and
    the gradient of every parameter match transformers'."""
    ours, theirs = _pair(checkpoints[layout, task], task, **NO_DROPOUT)
    audio, mask = _audio()
    labels = _labels(task, LAYOUTS[layout])
    results = []
    for model in (ours, theirs):
        model.train()
        np.random.seed(3)
        loss = model(audio, attention_mask=mask, labels=labels).loss
        loss.backward()
        results.append((loss.detach(), {name: p.grad for name, p in model.named_parameters()}))
    (loss, grads), (expected_loss, expected_grads) = results
    torch.testing.assert_close(loss, expected_loss, rtol=1e-6, atol=ATOL)
    assert grads.keys() == expected_grads.keys()
    for name, grad in expected_grads.items():
        if grad is None:
            assert grads[name] is None, name
        else:
            torch.testing.assert_close(grads[name], grad, rtol=1e-5, atol=ATOL, msg=name)


def test_spec_augment_masks_as_transformers() -> None:
    """The SpecAugment spans drawn from one numpy seed are transformers' spans."""
    from transformers.models.wav2vec2.modeling_wav2vec2 import _compute_mask_indices

    frame_mask = torch.ones(3, 40, dtype=torch.long)
    frame_mask[1, 30:] = 0
    frame_mask[2, 12:] = 0
    for args in (((3, 40), 0.3, 4, frame_mask, 2), ((3, 40), 0.05, 10, None, 2), ((3, 16), 0.5, 2, None, 0)):
        np.random.seed(5)
        expected = _compute_mask_indices(*args)
        np.random.seed(5)
        assert np.array_equal(modeling.compute_mask_indices(*args), expected)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_autohub_saves_what_transformers_loads(
    layout: str, checkpoints: dict[tuple[str, str], Path], tmp_path: Path
) -> None:
    """autohub -> save_pretrained -> transformers loads the same CTC model (and the same config)."""
    ours = auto_class_for_task("ctc").from_pretrained(checkpoints[layout, "ctc"])
    ours.save_pretrained(tmp_path)
    keys = set(load_file(tmp_path / "model.safetensors"))
    assert keys == set(load_file(checkpoints[layout, "ctc"] / "model.safetensors"))
    theirs = transformers.Wav2Vec2ForCTC.from_pretrained(tmp_path).eval()
    audio, mask = _audio()
    with torch.no_grad():
        torch.testing.assert_close(ours(audio, mask).logits, theirs(audio, mask).logits, rtol=0, atol=ATOL)
    saved = json.loads((tmp_path / "config.json").read_text())
    reference = transformers.Wav2Vec2Config.from_pretrained(checkpoints[layout, "ctc"]).to_dict()
    for key in ("conv_dim", "conv_kernel", "feat_extract_norm", "do_stable_layer_norm", "output_hidden_size"):
        assert saved[key] == reference[key], key


def test_old_weight_norm_names_load_and_save_back(
    checkpoints: dict[tuple[str, str], Path], tmp_path: Path
) -> None:
    """A checkpoint with ``weight_g`` / ``weight_v`` (wav2vec2-base-960h on the Hub) loads; as in
    transformers 5, the model saves those names back, and both libraries load that save."""
    source = tmp_path / "old"
    source.mkdir()
    folder = checkpoints["base-960h", "ctc"]
    (source / "config.json").write_text((folder / "config.json").read_text())
    renamed = {
        key.replace("parametrizations.weight.original0", "weight_g").replace(
            "parametrizations.weight.original1", "weight_v"
        ): tensor
        for key, tensor in load_file(folder / "model.safetensors").items()
    }
    save_file(renamed, str(source / "model.safetensors"), metadata={"format": "pt"})
    ours, info = auto_class_for_task("ctc").from_pretrained(source, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    assert any(name.endswith("parametrizations.weight.original0") for name, _ in ours.named_parameters())
    audio, mask = _audio()
    reference = transformers.Wav2Vec2ForCTC.from_pretrained(folder).eval()
    with torch.no_grad():
        expected = reference(audio, mask).logits
        torch.testing.assert_close(ours(audio, mask).logits, expected, rtol=0, atol=ATOL)
    for name, model in (("ours", ours), ("theirs", transformers.Wav2Vec2ForCTC.from_pretrained(source))):
        model.save_pretrained(tmp_path / name)
        saved = [
            key
            for key in load_file(tmp_path / name / "model.safetensors")
            if "pos_conv_embed.conv.weight" in key
        ]
        assert sorted(saved) == [
            "wav2vec2.encoder.pos_conv_embed.conv.weight_g",
            "wav2vec2.encoder.pos_conv_embed.conv.weight_v",
        ], name
    reloaded = transformers.Wav2Vec2ForCTC.from_pretrained(tmp_path / "ours").eval()
    again = auto_class_for_task("ctc").from_pretrained(tmp_path / "ours")
    with torch.no_grad():
        torch.testing.assert_close(reloaded(audio, mask).logits, expected, rtol=0, atol=ATOL)
        torch.testing.assert_close(again(audio, mask).logits, expected, rtol=0, atol=ATOL)


def test_auto_classes_resolve(checkpoints: dict[tuple[str, str], Path]) -> None:
    for task, class_name in HEADS.items():
        model = auto_class_for_task(task).from_pretrained(checkpoints["large-lv60", task])
        assert type(model) is getattr(modeling, class_name)
    assert type(AutoModel.from_pretrained(checkpoints["base-960h", "ctc"])) is modeling.Wav2Vec2Model


@pytest.mark.parametrize(
    "overrides",
    [
        {"add_adapter": True, "output_hidden_size": 12, "num_adapter_layers": 2},
        {"add_adapter": True, "adapter_stride": 3, "adapter_kernel_size": 3, "num_adapter_layers": 1},
        {"adapter_attn_dim": 6},
    ],
    ids=["adapter-projected", "adapter-same-size", "attention-adapter"],
)
def test_adapters_match_transformers(overrides: dict[str, Any], tmp_path: Path) -> None:
    """``add_adapter`` (the strided GLU convolutions) and ``adapter_attn_dim`` (MMS's attention
    adapters, in the stable layout), with the CTC loss over the shortened frames."""
    torch.manual_seed(0)
    config = {**LARGE_LV60, **NO_DROPOUT, "mask_time_prob": 0.0, "mask_feature_prob": 0.0, **overrides}
    transformers.Wav2Vec2ForCTC(transformers.Wav2Vec2Config(**config)).save_pretrained(tmp_path)
    ours, theirs = _pair(tmp_path, "ctc")
    audio, mask = _audio()
    labels = _labels("ctc", config)[:, :3]
    with torch.no_grad():
        expected, actual = theirs(audio, mask, labels=labels), ours(audio, mask, labels=labels)
    torch.testing.assert_close(actual.logits, expected.logits, rtol=0, atol=ATOL)
    torch.testing.assert_close(actual.loss, expected.loss, rtol=1e-6, atol=ATOL)


def test_bad_input_is_a_typed_error(checkpoints: dict[tuple[str, str], Path]) -> None:
    model = auto_class_for_task("ctc").from_pretrained(checkpoints["base-960h", "ctc"])
    receptive = 10 + (3 - 1) * 5 + (2 - 1) * 5 * 2  # the fewest samples that make one frame
    with pytest.raises(ModelInputError, match=f"fewer than the {receptive}.*'conv_kernel'"):
        model(torch.randn(1, receptive - 1))
    assert model(torch.randn(1, receptive)).logits.shape[1] == 1
    with pytest.raises(ModelInputError, match="2-D float tensor"):
        model(torch.randn(1, 1, 800))
    with pytest.raises(ModelInputError, match="2-D float tensor"):
        model(torch.ones(1, 800, dtype=torch.long))
    with pytest.raises(ModelInputError, match="attention_mask has shape"):
        model(torch.randn(2, 800), attention_mask=torch.ones(2, 700, dtype=torch.long))
    with pytest.raises(LabelError, match="vocab_size"):
        model(torch.randn(1, 800), labels=torch.tensor([[1, 32]]))
    xvector = auto_class_for_task("audio-xvector").from_pretrained(checkpoints["base-960h", "audio-xvector"])
    with pytest.raises(LabelError, match=r"0\.\.2"):
        xvector(torch.randn(2, 1600), labels=torch.tensor([0, 3]))
    with pytest.raises(ModelInputError, match="TDNN"):
        xvector(torch.randn(1, receptive + 20))
    with pytest.raises(UnsupportedFeatureError, match="target_lang='eng'"):
        modeling.Wav2Vec2ForCTC(Wav2Vec2Config(**BASE_960H), target_lang="eng")


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"feat_extract_norm": "batch"}, ConfigError, "'feat_extract_norm' = 'batch'"),
        ({"conv_stride": [5, 2]}, ConfigError, "len\\('conv_dim'\\) == len\\('conv_stride'\\)"),
        ({"tdnn_dilation": [1]}, ConfigError, "len\\('tdnn_dim'\\)"),
        ({"ctc_loss_reduction": "average"}, ConfigError, "'ctc_loss_reduction'"),
        ({"num_conv_pos_embedding_groups": 3}, ConfigError, "'num_conv_pos_embedding_groups'"),
        ({"feat_extract_activation": "swiglu"}, UnsupportedConfigError, "'feat_extract_activation'"),
        ({"vocab_size": None}, ConfigError, "'vocab_size'"),
    ],
)
def test_bad_config_names_the_key(overrides: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        config = Wav2Vec2Config.from_dict({**BASE_960H, **overrides})
        modeling.Wav2Vec2ForCTC(config)


def test_heads_without_adapter_support_refuse_it() -> None:
    config = Wav2Vec2Config(**{**BASE_960H, "add_adapter": True})
    for head in (modeling.Wav2Vec2ForSequenceClassification, modeling.Wav2Vec2ForAudioFrameClassification):
        with pytest.raises(ConfigError, match="'add_adapter'"):
            head(config)


PRETRAINING = {
    "num_codevectors_per_group": 5,
    "num_codevector_groups": 2,
    "codevector_dim": 8,
    "proj_codevector_dim": 6,
    "num_negatives": 4,
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("training", [False, True], ids=["eval-argmax", "train-gumbel"])
def test_pretraining_matches_transformers(layout: str, training: bool, tmp_path: Path) -> None:
    """Wav2Vec2ForPreTraining: masks and negatives drawn by both libraries' helpers from one numpy
    seed are identical; projected states, perplexity, contrastive and diversity losses and every
    gradient match (in training the hard Gumbel softmax draws from one torch seed)."""
    from transformers.models.wav2vec2.modeling_wav2vec2 import _compute_mask_indices, _sample_negative_indices

    config = {**LAYOUTS[layout], **NO_DROPOUT, **PRETRAINING}
    torch.manual_seed(0)
    transformers.Wav2Vec2ForPreTraining(transformers.Wav2Vec2Config(**config)).save_pretrained(tmp_path)
    ours = auto_class_for_task("pretraining").from_pretrained(tmp_path)
    theirs = transformers.Wav2Vec2ForPreTraining.from_pretrained(tmp_path)
    assert type(ours) is modeling.Wav2Vec2ForPreTraining
    audio, mask = _audio()
    shape = (len(LENGTHS), _frames(config, max(LENGTHS)))
    frame_mask = ours._get_feature_vector_attention_mask(shape[1], mask)
    draws = []
    for compute, sample in (
        (modeling.compute_mask_indices, modeling.sample_negative_indices),
        (_compute_mask_indices, _sample_negative_indices),
    ):
        np.random.seed(7)
        time_mask = compute(shape, mask_prob=0.4, mask_length=3, attention_mask=frame_mask, min_masks=2)
        draws.append((time_mask, sample(shape, 4, time_mask)))
    assert np.array_equal(draws[0][0], draws[1][0]) and np.array_equal(draws[0][1], draws[1][1])
    time_mask, negatives = (torch.from_numpy(array) for array in draws[0])
    results = []
    for model in (ours, theirs):
        model.train(training)
        torch.manual_seed(11)
        np.random.seed(13)  # SpecAugment's feature masks (large-lv60) while training
        output = model(audio, mask, mask_time_indices=time_mask, sampled_negative_indices=negatives)
        output.loss.backward()
        results.append((output, {name: p.grad for name, p in model.named_parameters()}))
    (actual, grads), (expected, expected_grads) = results
    for name in ("projected_states", "projected_quantized_states", "codevector_perplexity"):
        torch.testing.assert_close(actual[name], expected[name], rtol=0, atol=ATOL, msg=name)
    for name in ("loss", "contrastive_loss", "diversity_loss"):
        torch.testing.assert_close(actual[name], expected[name], rtol=1e-6, atol=ATOL, msg=name)
    for name, grad in expected_grads.items():
        if grad is None:
            assert grads[name] is None, name
        else:
            torch.testing.assert_close(grads[name], grad, rtol=1e-5, atol=ATOL, msg=name)
