"""Data-parallel fine-tuning under ``torchrun`` on CPU (gloo): DDP and FSDP2 (``fully_shard``).

One launch of ``python -m torch.distributed.run --nproc_per_node=2 --standalone`` runs
``distributed_train_worker.py`` over every case: a tiny autohub Llama causal LM and a tiny
autohub BERT sequence classifier (saved by transformers here, loaded by the workers through the
Auto classes, so the plugins come from their entry points in each rank), each wrapped in DDP
and in FSDP2, with SGD and AdamW, and with gradient checkpointing. Each rank trains one step on
its half of the batch; the mean of the two ranks' losses and every updated parameter must
equal the single-process step on the full batch (fp32, max abs diff <= 1e-5).

Equivalence holds because the losses are means over equal counts per rank: the causal LM
batch has no padding (the same number of labelled tokens per row), the classifier's loss is a
mean over rows, and DDP / FSDP2 average the gradients over the two ranks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import transformers

WORKER = Path(__file__).with_name("distributed_train_worker.py")
WORLD_SIZE = 2
LAUNCH_TIMEOUT_S = 240
TOLERANCE = 1e-5
VOCAB = 99
NUM_LABELS = 3
BATCH_ROWS = 4  # two per rank

LLAMA_CONFIG = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    intermediate_size=37,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
    pad_token_id=0,
    tie_word_embeddings=True,
    attention_dropout=0.0,
)
BERT_CONFIG = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    max_position_embeddings=64,
    num_labels=NUM_LABELS,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)
# model name -> (transformers class, config class, config kwargs, autohub Auto class, plugin module)
MODELS: dict[str, tuple[Any, Any, dict[str, Any], str, str]] = {
    "llama": (
        transformers.LlamaForCausalLM,
        transformers.LlamaConfig,
        LLAMA_CONFIG,
        "AutoModelForCausalLM",
        "autohub_llama",
    ),
    "bert": (
        transformers.BertForSequenceClassification,
        transformers.BertConfig,
        BERT_CONFIG,
        "AutoModelForSequenceClassification",
        "autohub_bert",
    ),
}
LEARNING_RATES = {"sgd": 0.1, "adamw": 1e-3}


def _case(model: str, wrapper: str, optimizer: str, gradient_checkpointing: bool = False) -> dict[str, Any]:
    name = f"{model}-{wrapper}-{optimizer}" + ("-checkpointing" if gradient_checkpointing else "")
    return {
        "name": name,
        "model": model,
        "wrapper": wrapper,
        "optimizer": optimizer,
        "lr": LEARNING_RATES[optimizer],
        "gradient_checkpointing": gradient_checkpointing,
    }


CASES = [
    _case(model, wrapper, optimizer)
    for model in MODELS
    for wrapper in ("ddp", "fsdp2")
    for optimizer in ("sgd", "adamw")
] + [
    _case("llama", "ddp", "sgd", gradient_checkpointing=True),
    _case("bert", "ddp", "sgd", gradient_checkpointing=True),
    _case("llama", "fsdp2", "sgd", gradient_checkpointing=True),
]
CASE_NAMES = [case["name"] for case in CASES]


def _full_batches() -> dict[str, dict[str, torch.Tensor]]:
    """One full batch per model, split by rows between the ranks."""
    generator = torch.Generator().manual_seed(0)
    llama_ids = torch.randint(1, VOCAB, (BATCH_ROWS, 12), generator=generator)
    bert_ids = torch.randint(1, VOCAB, (BATCH_ROWS, 10), generator=generator)
    bert_mask = torch.ones_like(bert_ids)
    bert_mask[1, 7:] = 0  # padding in one row of each rank's half: the loss is a mean over rows
    bert_mask[2, 5:] = 0
    bert_ids[bert_mask == 0] = 0
    token_type_ids = torch.zeros_like(bert_ids)
    token_type_ids[:, 4:] = 1
    return {
        "llama": {"input_ids": llama_ids, "labels": llama_ids.clone()},
        "bert": {
            "input_ids": bert_ids,
            "attention_mask": bert_mask,
            "token_type_ids": token_type_ids,
            "labels": torch.tensor([0, 2, 1, 2]),
        },
    }


def _launch(spec_path: Path, out_dir: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={WORLD_SIZE}",
        "--standalone",
        str(WORKER),
        str(spec_path),
        str(out_dir),
    ]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    environment.pop("AUTOHUB_PLUGINS", None)  # every installed plugin, found from entry points
    return subprocess.run(
        command, capture_output=True, text=True, timeout=LAUNCH_TIMEOUT_S, env=environment, check=False
    )


@pytest.fixture(scope="module")
def launch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Save the checkpoints and the batches, run the one torchrun launch, read both ranks' JSON."""
    root = tmp_path_factory.mktemp("distributed")
    batches = _full_batches()
    torch.save(batches, root / "batches.pt")
    models: dict[str, Any] = {}
    reference_losses: dict[str, float] = {}
    for name, (hf_class, config_class, config_kwargs, auto_class, _) in MODELS.items():
        torch.manual_seed(0)
        hf_model = hf_class(config_class(**config_kwargs))
        hf_model.save_pretrained(root / name)
        models[name] = {"checkpoint": str(root / name), "auto_class": auto_class}
        hf_model.train()
        with torch.no_grad():
            reference_losses[name] = hf_model(**batches[name]).loss.item()
    spec_path = root / "spec.json"
    spec_path.write_text(json.dumps({"models": models, "batches": str(root / "batches.pt"), "cases": CASES}))
    out_dir = root / "results"

    started = time.perf_counter()
    completed = _launch(spec_path, out_dir)
    seconds = time.perf_counter() - started
    assert completed.returncode == 0, (
        f"torchrun exited {completed.returncode}\n--- stdout\n{completed.stdout}\n--- stderr\n{completed.stderr}"
    )
    ranks = [json.loads((out_dir / f"rank{rank}.json").read_text()) for rank in range(WORLD_SIZE)]
    return {"ranks": ranks, "transformers_losses": reference_losses, "seconds": seconds}


def test_both_ranks_ran_every_case_on_gloo(launch: dict[str, Any]) -> None:
    """The launch ran two gloo ranks and each recorded every case."""
    assert launch["seconds"] < LAUNCH_TIMEOUT_S
    for rank, result in enumerate(launch["ranks"]):
        assert result["rank"] == rank
        assert result["world_size"] == result["local_world_size"] == WORLD_SIZE
        assert result["backend"] == "gloo"
        assert sorted(result["cases"]) == sorted(CASE_NAMES)


def test_plugins_resolve_from_entry_points_in_every_rank(launch: dict[str, Any]) -> None:
    """Each rank found the llama and bert plugins by entry point and built their classes."""
    for result in launch["ranks"]:
        assert result["plugins"]["llama"] == "autohub_llama.plugin"
        assert result["plugins"]["bert"] == "autohub_bert.plugin"
        for case in CASES:
            plugin_package = MODELS[case["model"]][4]
            model_class = result["cases"][case["name"]]["model_class"]
            assert model_class.startswith(f"{plugin_package}.modeling."), (case["name"], model_class)
    assert launch["ranks"][0]["cases"]["llama-ddp-sgd"]["model_class"].endswith(".LlamaForCausalLM")
    assert launch["ranks"][0]["cases"]["bert-ddp-sgd"]["model_class"].endswith(
        ".BertForSequenceClassification"
    )


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_one_step_equals_single_process_full_batch(launch: dict[str, Any], case_name: str) -> None:
    """Mean rank loss and every updated parameter equal the full-batch single-process step."""
    for result in launch["ranks"]:
        case = result["cases"][case_name]
        assert case["parameter_names_match"]
        # Llama's lm_head stays tied to the embeddings through DDP / fully_shard and the step.
        assert case["tied_embeddings"] is (case_name.startswith("llama"))
        assert case["parameter_count"] > 10
        # The step moved the weights far more than the tolerance: equality is not vacuous.
        assert case["max_reference_update"] > 100 * TOLERANCE
        # Each rank saw a different half of the batch.
        assert abs(case["rank_losses"][0] - case["rank_losses"][1]) > 100 * TOLERANCE
        assert case["loss_diff"] <= TOLERANCE, case
        assert case["max_param_diff"] <= TOLERANCE, case
    rank0, rank1 = (result["cases"][case_name] for result in launch["ranks"])
    assert rank0["mean_loss"] == rank1["mean_loss"]
    assert rank0["rank_losses"] == rank1["rank_losses"]


@pytest.mark.parametrize("model_name", list(MODELS))
def test_reference_loss_equals_transformers(launch: dict[str, Any], model_name: str) -> None:
    """The workers' single-process loss is transformers' loss on the same checkpoint and batch."""
    expected = launch["transformers_losses"][model_name]
    for result in launch["ranks"]:
        for case in CASES:
            if case["model"] == model_name:
                reference = result["cases"][case["name"]]["reference_loss"]
                assert reference == pytest.approx(expected, abs=TOLERANCE)


def test_fsdp2_shards_every_parameter_and_ddp_replicates(launch: dict[str, Any]) -> None:
    """Under FSDP2 every parameter is a DTensor and the ranks' shards add up to the model."""
    for case in CASES:
        per_rank = [result["cases"][case["name"]] for result in launch["ranks"]]
        full_numel = per_rank[0]["full_numel"]
        if case["wrapper"] == "fsdp2":
            assert all(rank["dtensor_parameters"] == rank["parameter_count"] for rank in per_rank)
            assert sum(rank["local_numel"] for rank in per_rank) == full_numel
            assert all(rank["local_numel"] < 0.6 * full_numel for rank in per_rank)
        else:
            assert all(rank["dtensor_parameters"] == 0 for rank in per_rank)
            assert all(rank["local_numel"] == full_numel for rank in per_rank)


@pytest.mark.parametrize(
    ("checkpointed", "plain"),
    [
        ("llama-ddp-sgd-checkpointing", "llama-ddp-sgd"),
        ("bert-ddp-sgd-checkpointing", "bert-ddp-sgd"),
        ("llama-fsdp2-sgd-checkpointing", "llama-fsdp2-sgd"),
    ],
)
def test_gradient_checkpointing_recomputes_blocks(
    launch: dict[str, Any], checkpointed: str, plain: str
) -> None:
    """With checkpointing on, a block's layers run again in the backward pass.

    Non-reentrant ``torch.utils.checkpoint`` stops recomputing once every tensor the backward
    needs is back, so a block's last Linear may not rerun: more calls, at most twice as many.
    """
    for result in launch["ranks"]:
        plain_calls = result["cases"][plain]["block_linear_calls"]
        checkpointed_calls = result["cases"][checkpointed]["block_linear_calls"]
        assert plain_calls > 0
        assert plain_calls + plain_calls // 2 < checkpointed_calls <= 2 * plain_calls
