"""Tiny image and audio checkpoints saved by transformers (models, processors, tokenizers) for the
CLI, task and documentation tests: shrunk vit-base-patch16-224, clip-vit-base-patch32,
wav2vec2-base-960h and whisper-tiny layouts."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import torch

IMAGE_LABELS = ["tabby", "goldfish", "tench"]
AUDIO_LABELS = ["yes", "no", "up", "down"]
CTC_VOCAB = ["<pad>", "<s>", "</s>", "<unk>", "|", "E", "T", "A", "O", "N", "I", "H", "S", "R", "D", "L"]


def _quiet() -> None:
    import transformers

    transformers.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", module="transformers")


def save_tiny_vit_classifier(directory: Path, seed: int = 0) -> Path:
    """A ViTForImageClassification (32x32 images, patches of 8) and ViT's image processor."""
    import transformers
    from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

    _quiet()
    config = transformers.ViTConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        image_size=32,
        patch_size=8,
        encoder_stride=8,
        id2label=dict(enumerate(IMAGE_LABELS)),
        label2id={label: i for i, label in enumerate(IMAGE_LABELS)},
    )
    torch.manual_seed(seed)
    transformers.ViTForImageClassification(config).eval().save_pretrained(directory)
    ViTImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(directory)
    return directory


def _clip_tokenizer_files(directory: Path) -> None:
    """vocab.json + merges.txt as OpenAI's CLIP lays them out: byte symbols, the same with
    ``</w>``, a few merges, then the two special tokens."""
    from tokenizers import pre_tokenizers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    merges = [("c", "a"), ("ca", "t</w>"), ("d", "o"), ("do", "g</w>")]
    tokens = [*alphabet, *(symbol + "</w>" for symbol in alphabet), *("".join(m) for m in merges)]
    vocab = {
        token: index
        for index, token in enumerate(dict.fromkeys([*tokens, "<|startoftext|>", "<|endoftext|>"]))
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    lines = ["#version: 0.2", *(" ".join(merge) for merge in merges)]
    (directory / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def save_tiny_clip(directory: Path, seed: int = 0) -> Path:
    """A CLIPModel (32x32 images) and its CLIPProcessor (PIL image processor + tokenizer)."""
    import transformers
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    _quiet()
    files = directory.with_name(f"{directory.name}-vocabulary")
    _clip_tokenizer_files(files)
    tokenizer = transformers.CLIPTokenizer(
        str(files / "vocab.json"), str(files / "merges.txt"), model_max_length=77
    )
    vocab_size = len(json.loads((files / "vocab.json").read_text()))
    config = transformers.CLIPConfig(
        text_config={
            "vocab_size": vocab_size,
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 77,
            "bos_token_id": vocab_size - 2,
            "eos_token_id": vocab_size - 1,
            "pad_token_id": vocab_size - 1,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=16,
    )
    torch.manual_seed(seed)
    transformers.CLIPModel(config).eval().save_pretrained(directory)
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    transformers.CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(
        directory
    )
    return directory


def _wav2vec2_config(**overrides: object) -> object:
    """wav2vec2-base-960h's config.json shrunk (group norm, no attention mask)."""
    import transformers

    settings = {
        "vocab_size": len(CTC_VOCAB),
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 37,
        "conv_dim": (16, 16, 16),
        "conv_stride": (5, 4, 2),
        "conv_kernel": (10, 8, 4),
        "num_conv_pos_embeddings": 16,
        "num_conv_pos_embedding_groups": 4,
        "feat_extract_norm": "group",
        "do_stable_layer_norm": False,
        "apply_spec_augment": False,
        "pad_token_id": 0,
        "ctc_loss_reduction": "sum",
        "classifier_proj_size": 24,
    }
    return transformers.Wav2Vec2Config(**{**settings, **overrides})


def save_tiny_wav2vec2_ctc(directory: Path, seed: int = 0) -> Path:
    """A Wav2Vec2ForCTC and its Wav2Vec2Processor (feature extractor + CTC tokenizer)."""
    import transformers

    _quiet()
    directory.mkdir(parents=True, exist_ok=True)
    vocab_file = directory / "vocab.json"
    vocab_file.write_text(json.dumps({token: i for i, token in enumerate(CTC_VOCAB)}), encoding="utf-8")
    tokenizer = transformers.Wav2Vec2CTCTokenizer(str(vocab_file))
    extractor = transformers.Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=False)
    torch.manual_seed(seed)
    transformers.Wav2Vec2ForCTC(_wav2vec2_config()).eval().save_pretrained(directory)
    transformers.Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(
        directory
    )
    return directory


def save_tiny_wav2vec2_classifier(directory: Path, seed: int = 0) -> Path:
    """A Wav2Vec2ForSequenceClassification (keyword spotting) and its feature extractor."""
    import transformers

    _quiet()
    config = _wav2vec2_config(
        id2label=dict(enumerate(AUDIO_LABELS)), label2id={label: i for i, label in enumerate(AUDIO_LABELS)}
    )
    torch.manual_seed(seed)
    transformers.Wav2Vec2ForSequenceClassification(config).eval().save_pretrained(directory)
    transformers.Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=False).save_pretrained(
        directory
    )
    return directory


def save_tiny_whisper(directory: Path, seed: int = 0) -> Path:
    """A WhisperForConditionalGeneration shaped like whisper-tiny (shrunk), its tokenizer (Whisper's
    special and timestamp tokens), feature extractor and the Hub's generation_config.json keys, built
    with the whisper plugin's test files. Timestamp rows are zeroed so greedy decoding emits none."""
    import transformers

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "autohub-whisper" / "tests"))
    import whisper_files

    _quiet()
    backend = whisper_files.write_tokenizer(directory)
    vocab_size = backend.get_vocab_size()
    config = transformers.WhisperConfig(**{**whisper_files.tiny_config_kwargs(vocab_size), "init_std": 0.5})
    torch.manual_seed(seed)
    model = transformers.WhisperForConditionalGeneration(config).eval()
    with torch.no_grad():
        model.model.decoder.embed_tokens.weight[backend.token_to_id("<|notimestamps|>") + 1 :] = 0.0
    model.save_pretrained(directory)
    generation = whisper_files.generation_config(vocab_size)
    (directory / "generation_config.json").write_text(json.dumps(generation), encoding="utf-8")
    transformers.WhisperFeatureExtractor(feature_size=80).save_pretrained(directory)
    return directory
