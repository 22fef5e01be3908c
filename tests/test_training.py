"""Fine-tuning autohub models with the libraries users train with: transformers' ``Trainer``
(logged losses equal to the same run on transformers' model, with and without gradient
checkpointing and accumulation), accelerate, a plain loop and ``torch.compile``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
import transformers
from torch.utils.data import Dataset

from autohub_core import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)
from autohub_core.errors import LabelError

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()

VOCAB = 99
NUM_LABELS = 3
BERT = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    max_position_embeddings=64,
    num_labels=NUM_LABELS,
)
LLAMA = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    intermediate_size=37,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
    pad_token_id=0,
    tie_word_embeddings=True,
)
# task -> (transformers class, autohub Auto class, config class, config kwargs)
TASKS = {
    "token-classification": (
        transformers.BertForTokenClassification,
        AutoModelForTokenClassification,
        transformers.BertConfig,
        BERT,
    ),
    "sequence-classification": (
        transformers.BertForSequenceClassification,
        AutoModelForSequenceClassification,
        transformers.BertConfig,
        BERT,
    ),
    "causal-lm": (transformers.LlamaForCausalLM, AutoModelForCausalLM, transformers.LlamaConfig, LLAMA),
}


class RandomTexts(Dataset):
    """Sentences of random ids and lengths with labels for ``task`` (some tokens unlabelled)."""

    def __init__(self, task: str, size: int = 24) -> None:
        self.task, self.size = task, size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(index)
        length = 4 + index % 7
        input_ids = torch.randint(1, VOCAB, (length,), generator=generator)
        if self.task == "sequence-classification":
            labels = torch.randint(0, NUM_LABELS, (), generator=generator)
        elif self.task == "token-classification":
            labels = torch.randint(0, NUM_LABELS, (length,), generator=generator)
            labels[::3] = -100  # sub-word pieces after the first carry no label
        else:
            labels = input_ids.clone()
        return {"input_ids": input_ids, "labels": labels}


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Right-pad ids with 0 and token labels with -100."""
    width = max(len(item["input_ids"]) for item in items)
    batch: dict[str, list[torch.Tensor]] = {"input_ids": [], "attention_mask": [], "labels": []}
    for item in items:
        padding = width - len(item["input_ids"])
        batch["input_ids"].append(torch.nn.functional.pad(item["input_ids"], (0, padding)))
        batch["attention_mask"].append(torch.tensor([1] * len(item["input_ids"]) + [0] * padding))
        labels = item["labels"]
        batch["labels"].append(
            labels if labels.dim() == 0 else torch.nn.functional.pad(labels, (0, padding), value=-100)
        )
    return {key: torch.stack(values) for key, values in batch.items()}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One transformers-saved tiny checkpoint per task (dropout on, as in real fine-tuning)."""
    saved = {}
    for task, (hf_class, _, config_class, config_kwargs) in TASKS.items():
        directory = tmp_path_factory.mktemp(task)
        torch.manual_seed(0)
        hf_class(config_class(**config_kwargs)).save_pretrained(directory)
        saved[task] = directory
    return saved


def _load(library: str, task: str, directory: Path) -> torch.nn.Module:
    hf_class, auto_class, _, _ = TASKS[task]
    return (hf_class if library == "transformers" else auto_class).from_pretrained(directory)


class AutohubTrainer(transformers.Trainer):
    """The recipe of docs/fine-tuning.md: save through the model's own ``save_pretrained``.

    transformers' ``Trainer._save`` calls ``save_pretrained`` only on transformers' classes; for
    any other model it writes a bare state dict, without config.json.
    """

    def _save(self, output_dir: str | None = None, state_dict: dict[str, Any] | None = None) -> None:
        output_dir = output_dir or self.args.output_dir
        self.model.save_pretrained(output_dir, state_dict=state_dict)
        if self.processing_class is not None:
            self.processing_class.save_pretrained(output_dir)


def _train(model: torch.nn.Module, task: str, output_dir: Path, **arguments: Any) -> transformers.Trainer:
    args = transformers.TrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=4,
        max_steps=3,
        logging_steps=1,
        learning_rate=5e-3,
        report_to=[],
        save_strategy="steps" if "save_steps" in arguments else "no",
        use_cpu=True,
        seed=0,
        dataloader_drop_last=True,
        **arguments,
    )
    trainer = AutohubTrainer(model=model, args=args, train_dataset=RandomTexts(task), data_collator=collate)
    trainer.train()
    return trainer


def _logged_losses(trainer: transformers.Trainer) -> list[float]:
    return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"gradient_accumulation_steps": 2},
        {"gradient_checkpointing": True},
        {"gradient_checkpointing": True, "gradient_accumulation_steps": 2},
    ],
    ids=["plain", "accumulation", "checkpointing", "checkpointing+accumulation"],
)
def test_trainer_logs_the_losses_of_transformers(
    task: str, arguments: dict[str, Any], checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    runs = {}
    for library in ("transformers", "autohub"):
        model = _load(library, task, checkpoints[task])
        runs[library] = (_train(model, task, tmp_path / library, **arguments), model)
    expected, actual = (_logged_losses(runs[library][0]) for library in ("transformers", "autohub"))
    assert len(actual) == 3 and all(math.isfinite(loss) for loss in actual)
    assert actual == pytest.approx(expected, rel=1e-4)
    if arguments.get("gradient_checkpointing"):
        assert runs["autohub"][1].is_gradient_checkpointing
    theirs, ours = runs["transformers"][1].state_dict(), runs["autohub"][1].state_dict()
    for name, tensor in ours.items():
        torch.testing.assert_close(tensor, theirs[name], rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize("task", list(TASKS))
def test_trainer_saved_model_loads_in_both_libraries(
    task: str, checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    trainer = _train(_load("autohub", task, checkpoints[task]), task, tmp_path / "run", save_steps=2)
    assert (tmp_path / "run" / "checkpoint-2" / "config.json").is_file()  # Trainer's own checkpoints
    trainer.save_model(str(tmp_path / "saved"))
    trained = trainer.model.eval()
    batch = collate([RandomTexts(task)[index] for index in range(3)])
    del batch["labels"]
    with torch.no_grad():
        expected = trained(**batch).logits
        for library in ("transformers", "autohub"):
            reloaded = _load(library, task, tmp_path / "saved").eval()
            torch.testing.assert_close(reloaded(**batch).logits, expected, rtol=0, atol=1e-5)


def _plain_loop(model: torch.nn.Module, task: str, steps: int = 3, accelerator: Any = None) -> list[float]:
    """AdamW over fixed batches, through ``accelerator.prepare`` / ``backward`` when one is given."""
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    loader = torch.utils.data.DataLoader(RandomTexts(task), batch_size=4, collate_fn=collate)
    if accelerator is not None:
        model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    model.train()
    losses = []
    for _, batch in zip(range(steps), loader, strict=False):
        loss = model(**batch).loss
        if accelerator is not None:
            accelerator.backward(loss)
        else:
            loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("task", ["token-classification", "causal-lm"])
def test_plain_loop_and_accelerate_train_like_transformers(task: str, checkpoints: dict[str, Path]) -> None:
    import accelerate

    expected = _plain_loop(_load("transformers", task, checkpoints[task]), task)
    assert _plain_loop(_load("autohub", task, checkpoints[task]), task) == pytest.approx(expected, rel=1e-5)
    accelerator = accelerate.Accelerator(cpu=True)
    prepared = _plain_loop(_load("autohub", task, checkpoints[task]), task, accelerator=accelerator)
    assert prepared == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("task", ["token-classification", "causal-lm"])  # bert, llama
def test_torch_compile_trains_with_the_eager_losses(task: str, checkpoints: dict[str, Path]) -> None:
    """Without dropout: compiled code draws its dropout masks from another generator."""
    auto_class, no_dropout = TASKS[task][1], {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
    if task == "causal-lm":
        no_dropout = {"attention_dropout": 0.0}
    eager = _plain_loop(auto_class.from_pretrained(checkpoints[task], **no_dropout), task)
    # Without torch's AOT-autograd cache: in torch 2.13, after another test of this process has
    # compiled a decoder (tests/test_cache.py), saving this graph's entry replays the views of the
    # returned KV cache with garbage shapes (a RuntimeError, or a segfault). A fresh process is fine.
    with torch._functorch.config.patch(enable_autograd_cache=False):
        compiled = _plain_loop(
            torch.compile(TASKS[task][1].from_pretrained(checkpoints[task], **no_dropout)), task
        )
    assert compiled == pytest.approx(eager, rel=1e-5, abs=1e-5)


def test_quantisation_is_refused(checkpoints: dict[str, Path]) -> None:
    from autohub_core.errors import UnsupportedFeatureError

    for option in ({"load_in_8bit": True}, {"quantization_config": {"load_in_4bit": True}}):
        with pytest.raises(UnsupportedFeatureError, match="not supported"):
            AutoModelForCausalLM.from_pretrained(checkpoints["causal-lm"], **option)


@pytest.mark.parametrize(
    ("task", "labels", "message"),
    [
        ("token-classification", torch.zeros(2, 3, dtype=torch.long), "shape"),
        ("token-classification", torch.zeros(2, 6), "integer"),
        ("token-classification", torch.full((2, 6), NUM_LABELS), "num_labels"),
        ("sequence-classification", torch.tensor([0, 7]), "num_labels"),
        ("sequence-classification", torch.zeros(3, dtype=torch.long), "shape"),
        ("causal-lm", torch.full((2, 6), VOCAB), "outside"),
    ],
)
def test_bad_labels_are_refused_before_any_update(
    task: str, labels: torch.Tensor, message: str, checkpoints: dict[str, Path]
) -> None:
    model = _load("autohub", task, checkpoints[task]).train()
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    input_ids = torch.randint(1, VOCAB, (2, 6), generator=torch.Generator().manual_seed(0))
    with pytest.raises(LabelError, match=message):
        model(input_ids=input_ids, labels=labels)
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())


def test_trainer_divides_by_accumulation_steps_when_loss_kwargs_are_declined(
    checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    """``model.accepts_loss_kwargs = False`` (docs/fine-tuning.md): mean losses, as one big batch."""
    task = "token-classification"
    losses = {}
    for library in ("transformers", "autohub"):
        model = _load(library, task, checkpoints[task])
        model.accepts_loss_kwargs = False
        losses[library] = _logged_losses(
            _train(model, task, tmp_path / library, gradient_accumulation_steps=2)
        )
    single = _logged_losses(_train(_load("autohub", task, checkpoints[task]), task, tmp_path / "single"))
    assert losses["autohub"] == pytest.approx(losses["transformers"], rel=1e-4)
    assert losses["autohub"][0] == pytest.approx(single[0], rel=0.5)  # a mean, not a sum of two means
