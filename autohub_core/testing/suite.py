"""``ConformanceSuite``: the checks every family or head plugin must pass.

A plugin's test module subclasses the suite and sets class attributes; pytest collects
the inherited ``test_*`` methods and parametrizes them over ``tasks`` (and dtypes) through
the class-level ``pytest_generate_tests``. Override the ``inputs_for`` / ``labels_for`` /
``expected_shapes`` methods for a task whose inputs differ from transformers' conventions.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch

from autohub_core.auto import BASE_TASK, AutoConfig, AutoTokenizer, auto_class_for_task
from autohub_core.configuration import CONFIG_NAME, PretrainedConfig, read_json_file
from autohub_core.modeling import SAFE_WEIGHTS_NAME, PreTrainedModel
from autohub_core.outputs import ModelOutput
from autohub_core.parallel import STYLES, declared_plan, matching_modules
from autohub_core.plugins import get_registry, list_plugins

__all__ = ["ConformanceSuite"]

_BOGUS_KEY = "conformance_bogus.weight"
_LABELLED_TASKS = (
    "pretraining",
    "masked-lm",
    "causal-lm",
    "seq2seq-lm",
    "sequence-classification",
    "token-classification",
    "question-answering",
    "multiple-choice",
    "next-sentence-prediction",
)
_DEFAULT_TEXTS = (
    "Hello world!",
    " leading space and  double  spaces",
    "new\nlines\n\nand\ttabs",
    "accents: café naïve Ångström",
    "",
    "the quick brown fox jumps over the lazy dog " * 8,
)


class _Checkpoints:
    """One randomly initialised model per task, saved once per test class."""

    def __init__(self, suite: ConformanceSuite, root: Path) -> None:
        self._suite = suite
        self._root = root
        self._saved: dict[str, tuple[PreTrainedModel, Path]] = {}

    def get(self, task: str) -> tuple[PreTrainedModel, Path]:
        if task not in self._saved:
            model = self._suite.build_model(task).eval()
            directory = self._root / task
            model.save_pretrained(directory)
            self._saved[task] = (model, directory)
        return self._saved[task]


class ConformanceSuite:
    """Inherit in a ``Test...`` class of a plugin's tests and set the class attributes.

    Required: ``plugin_name`` (the entry-point name), ``model_type`` and ``config_kwargs``
    (a tiny config). ``tasks`` lists the tasks to check ("base" is ``AutoModel``); None
    means "base" plus every head the registry knows for ``model_type``. Define a method
    ``make_tokenizer_files(self, directory)`` writing tokenizer files to enable the tokenizer
    round-trip check.
    """

    plugin_name: ClassVar[str] = ""
    model_type: ClassVar[str] = ""
    config_kwargs: ClassVar[dict[str, Any]] = {}
    tasks: ClassVar[tuple[str, ...] | None] = None
    loss_tasks: ClassVar[tuple[str, ...] | None] = None
    """Tasks whose loss is checked; None: those of ``tasks`` with transformers' label names."""
    dtypes: ClassVar[tuple[str, ...]] = ("float16", "bfloat16")
    tokenizer_texts: ClassVar[tuple[str, ...]] = _DEFAULT_TEXTS
    make_tokenizer_files: ClassVar[Callable[..., None] | None] = None
    batch_size: ClassVar[int] = 2
    seq_length: ClassVar[int] = 7
    decoder_length: ClassVar[int] = 5
    num_choices: ClassVar[int] = 3
    output_atol: ClassVar[float] = 1e-6
    tensor_parallel_overrides: ClassVar[dict[str, Any]] = {}
    """Config overrides for the tensor-parallel run (sizes and head counts the 2 ranks divide)."""
    tensor_parallel_atol: ClassVar[float] = 1e-5
    config_dependent_plan_entries: ClassVar[frozenset[str]] = frozenset()
    """Declared plan entries (full patterns, or their trailing components such as
    ``"DenseReluDense.wi_0"``) that name modules only under some configs (T5's ``wi`` vs gated
    ``wi_0`` / ``wi_1``): the kit does not require them to match the tested model."""
    """Round-trip output tolerance: weights are bit-identical, but kernels may round differently
    on differently aligned (memory-mapped) tensors."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.make_tokenizer_files is None:
            cls.test_tokenizer_save_load_round_trip = None  # type: ignore[assignment]
        if cls.loss_tasks == ():
            cls.test_loss_with_labels = None  # type: ignore[assignment]

    # -- parametrization -----------------------------------------------------------------

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Parametrize the checks over ``task`` (``tasks_to_check()``, or ``tasks_with_labels()`` for
        the loss check) and ``dtype_name`` (``dtypes``)."""
        if "task" in metafunc.fixturenames:
            names = metafunc.function.__name__
            tasks = self.tasks_with_labels() if names == "test_loss_with_labels" else self.tasks_to_check()
            metafunc.parametrize("task", tasks)
        if "dtype_name" in metafunc.fixturenames:
            metafunc.parametrize("dtype_name", self.dtypes)

    @classmethod
    def tasks_to_check(cls) -> list[str]:
        """``tasks``, or ``"base"`` plus every head task the registry knows for ``model_type``."""
        if cls.tasks is not None:
            return list(cls.tasks)
        return [BASE_TASK, *get_registry().tasks(cls.model_type)]

    @classmethod
    def tasks_with_labels(cls) -> list[str]:
        """``loss_tasks``, or the tasks to check whose heads take transformers' labels."""
        if cls.loss_tasks is not None:
            return list(cls.loss_tasks)
        return [task for task in cls.tasks_to_check() if task in _LABELLED_TASKS]

    @pytest.fixture(scope="class")
    @classmethod
    def conformance_checkpoints(cls, tmp_path_factory: pytest.TempPathFactory) -> _Checkpoints:
        """Class-scoped fixture: one saved tiny checkpoint per task, built on first request."""
        return _Checkpoints(cls(), tmp_path_factory.mktemp(f"conformance-{cls.model_type}"))

    # -- building blocks a plugin may override ----------------------------------------------

    def build_config(self, **overrides: Any) -> PretrainedConfig:
        """``AutoConfig.for_model(model_type)`` with ``config_kwargs`` and ``overrides``."""
        return AutoConfig.for_model(self.model_type, **{**self.config_kwargs, **overrides})

    def build_model(self, task: str, **config_overrides: Any) -> PreTrainedModel:
        """A randomly initialised (seeded) model of ``task`` from ``build_config(**config_overrides)``."""
        torch.manual_seed(0)
        return auto_class_for_task(task).from_config(self.build_config(**config_overrides))

    def inputs_for(self, task: str, config: PretrainedConfig) -> dict[str, torch.Tensor]:
        """Forward inputs in transformers' conventions (right padding in the last row)."""
        generator = torch.Generator().manual_seed(1)
        shape: tuple[int, ...] = (self.batch_size, self.seq_length)
        if task == "multiple-choice":
            shape = (self.batch_size, self.num_choices, self.seq_length)
        low = min(5, config.vocab_size - 1)
        input_ids = torch.randint(low, config.vocab_size, shape, generator=generator)
        attention_mask = torch.ones(shape, dtype=torch.long)
        attention_mask[-1, ..., -2:] = 0
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if getattr(config, "is_encoder_decoder", False) and task in (BASE_TASK, "seq2seq-lm"):
            decoder_shape = (self.batch_size, self.decoder_length)
            inputs["decoder_input_ids"] = torch.randint(
                low, config.vocab_size, decoder_shape, generator=generator
            )
        return inputs

    def labels_for(
        self, task: str, config: PretrainedConfig, inputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Label arguments with transformers' names for ``task``."""
        generator = torch.Generator().manual_seed(2)
        batch, length = self.batch_size, self.seq_length

        def ints(high: int, *shape: int) -> torch.Tensor:
            return torch.randint(0, high, shape, generator=generator)

        if task in ("masked-lm", "pretraining"):
            labels = inputs["input_ids"].clone()
            labels[:, ::2] = -100
            return {"labels": labels, "next_sentence_label": ints(2, batch)}
        if task == "causal-lm":
            return {"labels": inputs["input_ids"].clone()}
        if task == "seq2seq-lm":
            return {"labels": ints(config.vocab_size, batch, self.decoder_length)}
        if task == "sequence-classification":
            return {"labels": ints(config.num_labels, batch)}
        if task == "token-classification":
            return {"labels": ints(config.num_labels, batch, length)}
        if task == "question-answering":
            return {"start_positions": ints(length, batch), "end_positions": ints(length, batch)}
        if task == "multiple-choice":
            return {"labels": ints(self.num_choices, batch)}
        if task == "next-sentence-prediction":
            return {"labels": ints(2, batch)}
        raise NotImplementedError(f"no default labels for task {task!r}; override labels_for")

    def expected_shapes(self, task: str, config: PretrainedConfig) -> dict[str, tuple[int, ...]]:
        """Output field -> shape for ``task``; unknown tasks only check the batch dimension."""
        batch, length = self.batch_size, self.seq_length
        hidden, vocab, labels = config.hidden_size, config.vocab_size, config.num_labels
        decoded = self.decoder_length if getattr(config, "is_encoder_decoder", False) else length
        return {
            BASE_TASK: {"last_hidden_state": (batch, decoded, hidden)},
            "text-encoding": {"last_hidden_state": (batch, length, hidden)},
            "pretraining": {"prediction_logits": (batch, length, vocab)},
            "masked-lm": {"logits": (batch, length, vocab)},
            "causal-lm": {"logits": (batch, length, vocab)},
            "seq2seq-lm": {"logits": (batch, self.decoder_length, vocab)},
            "sequence-classification": {"logits": (batch, labels)},
            "token-classification": {"logits": (batch, length, labels)},
            "question-answering": {"start_logits": (batch, length), "end_logits": (batch, length)},
            "multiple-choice": {"logits": (batch, self.num_choices)},
            "next-sentence-prediction": {"logits": (batch, 2)},
        }.get(task, {})

    # -- the checks ------------------------------------------------------------------------

    def test_plugin_registered_through_entry_point(self) -> None:
        """The entry point loads from an installed distribution and provides the config, base model and
        heads of ``model_type`` (or another plugin does, for tasks this one does not declare)."""
        plugins = {info.plugin_id: info for info in list_plugins()}
        assert self.plugin_name in plugins, (
            f"entry point {self.plugin_name!r} not found in the 'autohub' group (found {sorted(plugins)}); "
            "is the package installed (pip install -e .)?"
        )
        info = plugins[self.plugin_name]
        assert info.loaded, f"plugin {self.plugin_name!r} failed to load: {info.error}"
        assert info.distribution, "the entry point must come from an installed distribution"
        declared = {(d.kind, d.model_type, d.task) for d in info.declarations}
        registry = get_registry()
        assert registry.has("config", self.model_type), f"no plugin declares a config for {self.model_type!r}"
        for task in self.tasks_to_check():
            key = ("model", self.model_type, None) if task == BASE_TASK else ("head", self.model_type, task)
            if key in declared:
                assert registry.source(*key) == self.plugin_name, (
                    f"{key} is provided by {registry.source(*key)}"
                )
            else:
                assert registry.has(*key), f"nothing provides {key}"

    def test_output_types_and_shapes(self, task: str, conformance_checkpoints: _Checkpoints) -> None:
        """``forward`` returns a ``ModelOutput`` with the expected shapes and finite values, and a tuple
        with ``return_dict=False``."""
        model, _ = conformance_checkpoints.get(task)
        inputs = self._accepted(model, self.inputs_for(task, model.config))
        with torch.no_grad():
            output = model(**inputs)
            as_tuple = model(**inputs, return_dict=False)
        assert isinstance(output, ModelOutput), f"{type(model).__name__} returned {type(output).__name__}"
        for name, shape in self.expected_shapes(task, model.config).items():
            value = getattr(output, name, None)
            assert isinstance(value, torch.Tensor), f"{task}: output has no tensor {name!r}"
            assert tuple(value.shape) == shape, (
                f"{task}: {name} has shape {tuple(value.shape)}, expected {shape}"
            )
        tensors = [value for value in output.to_tuple() if isinstance(value, torch.Tensor)]
        assert tensors and tensors[0].shape[0] == self.batch_size
        assert all(torch.isfinite(t).all() for t in tensors if t.is_floating_point())
        assert isinstance(as_tuple, tuple)
        assert torch.equal(as_tuple[0], output.to_tuple()[0])

    def test_save_load_round_trip(self, task: str, conformance_checkpoints: _Checkpoints) -> None:
        """``save_pretrained`` then ``from_pretrained``: same class, eval mode, no missing, unexpected or
        mismatched keys, identical weights and outputs."""
        model, directory = conformance_checkpoints.get(task)
        assert read_json_file(directory / CONFIG_NAME)["architectures"] == [type(model).__name__]
        loaded, info = auto_class_for_task(task).from_pretrained(directory, output_loading_info=True)
        assert type(loaded) is type(model)
        assert not loaded.training, "from_pretrained must return the model in eval mode"
        assert info["missing_keys"] == [] and info["unexpected_keys"] == [] and info["mismatched_keys"] == []
        expected_state, loaded_state = model.state_dict(), loaded.state_dict()
        assert expected_state.keys() == loaded_state.keys()
        for key, tensor in expected_state.items():
            assert torch.equal(tensor, loaded_state[key]), f"{key} changed in the round trip"
        inputs = self._accepted(model, self.inputs_for(task, model.config))
        with torch.no_grad():
            expected, actual = model(**inputs).to_tuple(), loaded(**inputs).to_tuple()
        assert len(expected) == len(actual)
        for before, after in zip(expected, actual, strict=True):
            if isinstance(before, torch.Tensor):
                torch.testing.assert_close(after, before, rtol=0.0, atol=self.output_atol)

    def test_loss_with_labels(self, task: str) -> None:
        """With transformers' labels, ``forward`` returns a finite scalar loss that backpropagates."""
        model = self.build_model(task).train()
        inputs = self.inputs_for(task, model.config)
        inputs.update(self.labels_for(task, model.config, inputs))
        loss = model(**self._accepted(model, inputs)).loss
        assert isinstance(loss, torch.Tensor), f"{task}: no loss with labels"
        assert loss.dim() == 0 and math.isfinite(loss.item()), f"{task}: loss {loss} is not a finite scalar"
        assert loss.requires_grad
        loss.backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads, f"{task}: backward reached no parameter"
        assert all(torch.isfinite(grad).all() for grad in grads)

    def test_training_contract(self, task: str) -> None:
        """Gradient checkpointing leaves loss and gradients unchanged; heads take ``num_items_in_batch``;
        the input embeddings are reachable from every class."""
        model = self.build_model(task).train()
        assert model.get_input_embeddings() is not None, f"{task}: get_input_embeddings() is None"
        assert model.supports_gradient_checkpointing, f"{task}: no GradientCheckpointingLayer blocks"
        inputs = self.inputs_for(task, model.config)
        if task in self.tasks_with_labels():
            inputs.update(self.labels_for(task, model.config, inputs))
            inputs["num_items_in_batch"] = torch.tensor(3)
        inputs = self._accepted(model, inputs)
        results = []
        for checkpointing in (False, True):
            if checkpointing:
                model.gradient_checkpointing_enable()
                assert model.is_gradient_checkpointing
            model.zero_grad()
            torch.manual_seed(0)  # the same dropout masks in both runs
            output = model(**inputs)
            loss = (
                output.loss
                if "labels" in inputs or "start_positions" in inputs
                else output.to_tuple()[0].sum()
            )
            loss.backward()
            results.append((loss.detach(), {name: p.grad for name, p in model.named_parameters()}))
        model.gradient_checkpointing_disable()
        assert not model.is_gradient_checkpointing
        (loss, grads), (checkpointed_loss, checkpointed_grads) = results
        torch.testing.assert_close(checkpointed_loss, loss)
        for name, grad in grads.items():
            if grad is not None:
                torch.testing.assert_close(checkpointed_grads[name], grad, msg=name)

    def test_dtype_and_eval_on_load(
        self, task: str, dtype_name: str, conformance_checkpoints: _Checkpoints
    ) -> None:
        """``from_pretrained(dtype=...)`` loads in eval mode in that dtype (``_keep_in_fp32_modules`` kept
        in float32) and the forward pass stays finite."""
        _, directory = conformance_checkpoints.get(task)
        dtype = getattr(torch, dtype_name)
        loaded = auto_class_for_task(task).from_pretrained(directory, dtype=dtype)
        assert not loaded.training
        assert loaded.dtype == dtype and loaded.config.dtype == dtype_name
        tensors = dict([*loaded.named_parameters(), *loaded.named_buffers()])
        kept = set(loaded._float32_kept(iter(tensors), dtype))  # _keep_in_fp32_modules(_strict)
        for name, tensor in tensors.items():
            if tensor.is_floating_point():
                wanted = torch.float32 if name in kept else dtype
                assert tensor.dtype == wanted, f"{name} is {tensor.dtype}, expected {wanted}"
        with torch.no_grad():
            output = loaded(**self._accepted(loaded, self.inputs_for(task, loaded.config)))
        first = output.to_tuple()[0]
        assert first.dtype == dtype and torch.isfinite(first).all()

    @pytest.mark.parametrize("tie", [True, False])
    def test_tied_weights_stay_tied(self, task: str, tie: bool, tmp_path: Path) -> None:
        """``tie_word_embeddings`` is honoured before and after a save/load round trip."""
        model = self.build_model(task, tie_word_embeddings=tie)
        model.save_pretrained(tmp_path)
        loaded = auto_class_for_task(task).from_pretrained(tmp_path)
        for candidate in (model, loaded):
            output_embeddings = candidate.get_output_embeddings()
            if output_embeddings is None:
                continue  # this head has no vocabulary projection to tie
            input_weight = candidate.get_input_embeddings().weight
            assert (output_embeddings.weight is input_weight) == tie, (
                f"tie_word_embeddings={tie} not honoured"
            )
        if model.get_output_embeddings() is not None and not tie:
            assert torch.equal(loaded.get_output_embeddings().weight, model.get_output_embeddings().weight)

    def test_missing_and_unexpected_keys_reported(
        self,
        task: str,
        conformance_checkpoints: _Checkpoints,
        tmp_path: Path,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A checkpoint missing a key and carrying an unknown one loads, reports both in the loading info,
        warns about the missing key and initialises it."""
        from safetensors.torch import load_file, save_file

        model, directory = conformance_checkpoints.get(task)
        tensors = load_file(directory / SAFE_WEIGHTS_NAME)
        victim = self._deletable_key(model, tensors)
        del tensors[victim]
        tensors[_BOGUS_KEY] = torch.zeros(3)
        shutil.copy(directory / CONFIG_NAME, tmp_path / CONFIG_NAME)
        save_file(tensors, str(tmp_path / SAFE_WEIGHTS_NAME), metadata={"format": "pt"})
        with caplog.at_level(logging.WARNING, logger="autohub"):
            loaded, info = auto_class_for_task(task).from_pretrained(tmp_path, output_loading_info=True)
        assert info["missing_keys"] == [victim]
        assert info["unexpected_keys"] == [_BOGUS_KEY]
        assert victim in caplog.text, "a missing key must be warned about"
        restored = loaded.state_dict()[victim]
        assert not restored.is_meta and torch.isfinite(restored).all()

    def test_tensor_parallel_plan_names_real_modules(self, task: str) -> None:
        """The declared tensor-parallel plan (``base_model_tp_plan`` + ``_tp_plan``) uses the plan
        vocabulary and each entry names modules of the model; ``_no_split_modules`` names classes
        the model has."""
        with torch.device("meta"):
            model = self.build_model(task, **self.tensor_parallel_overrides)
        plan = declared_plan(model)
        assert plan, f"{type(model).__name__} declares no tensor-parallel plan (base_model_tp_plan)"
        for pattern, style in plan.items():
            assert style.partition(":")[0] in STYLES, f"{pattern}: unknown style {style!r}"
            if not any(pattern == e or pattern.endswith("." + e) for e in self.config_dependent_plan_entries):
                assert matching_modules(model, pattern), (
                    f"plan entry {pattern!r} names no module of {type(model).__name__}"
                )
        classes = {type(module).__name__ for module in model.modules()}
        assert model._no_split_modules, f"{type(model).__name__} declares no _no_split_modules"
        assert set(model._no_split_modules) <= classes, (
            f"_no_split_modules {model._no_split_modules} not all in the model"
        )

    def test_tensor_parallel_matches_single_process(self, tmp_path: Path) -> None:
        """Under ``torchrun --nproc_per_node=2`` (gloo on CPU) every task loaded with ``tp_plan="auto"``
        gives the outputs and gradients of the whole model (≤ ``tensor_parallel_atol``), the same greedy
        tokens, each rank holds half of the sharded weights, and ``save_pretrained`` writes the tensors a
        whole-model save writes."""
        from safetensors.torch import save_file

        cases = []
        for task in self.tasks_to_check():
            model = self.build_model(task, **self.tensor_parallel_overrides).eval()
            model.save_pretrained(tmp_path / task)
            inputs = self.inputs_for(task, model.config)
            labels = self.labels_for(task, model.config, inputs) if task in self.tasks_with_labels() else {}
            arguments = self._accepted(model, {**inputs, **labels})
            save_file(
                {k: v.contiguous() for k, v in arguments.items()}, str(tmp_path / f"{task}.safetensors")
            )
            cases.append(
                {
                    "task": task,
                    "checkpoint": str(tmp_path / task),
                    "inputs": str(tmp_path / f"{task}.safetensors"),
                    "labels": sorted(set(labels) & set(arguments)),
                }
            )
        output = tmp_path / "results"
        output.mkdir()
        spec = tmp_path / "spec.json"
        spec.write_text(json.dumps({"cases": cases, "output": str(output)}), encoding="utf-8")
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
        command += ["-m", "autohub_core.testing.tensor_parallel", str(spec)]
        environment = {**os.environ, "OMP_NUM_THREADS": "1"}
        run = subprocess.run(command, capture_output=True, text=True, timeout=600, env=environment)
        assert run.returncode == 0, f"torchrun failed:\n{run.stdout[-4000:]}\n{run.stderr[-8000:]}"
        for rank in range(2):
            results = json.loads((output / f"rank{rank}.json").read_text(encoding="utf-8"))
            assert [r["task"] for r in results] == [c["task"] for c in cases]
            for result in results:
                task = result["task"]
                assert result["plan"], f"{task}: nothing was sharded"
                assert result["output_max_diff"] <= self.tensor_parallel_atol, (task, result)
                assert result["grad_max_diff"] <= self.tensor_parallel_atol, (task, result)
                assert result.get("generate_equal", True), (
                    f"{task}: greedy tokens differ under tensor parallelism"
                )
                assert result["sharded_share"] == 0.5, (task, result["sharded_share"])
                assert result["sharded_tensors_read"] and not result["sharded_tensors_read_whole"], (
                    task,
                    result,
                )
                if rank == 0:
                    assert result["save_equal"], f"{task}: the tensor-parallel save differs from a whole save"

    def test_tokenizer_save_load_round_trip(self, tmp_path: Path) -> None:
        """The tokenizer built from ``make_tokenizer_files`` saves and reloads with the same ids for
        ``tokenizer_texts``."""
        source, saved = tmp_path / "source", tmp_path / "saved"
        source.mkdir()
        self.build_config().save_pretrained(source)
        self.make_tokenizer_files(source)  # type: ignore[misc]
        tokenizer = AutoTokenizer.from_pretrained(source)
        registry = get_registry()
        if registry.has("tokenizer", self.model_type):
            assert isinstance(tokenizer, registry.lookup("tokenizer", self.model_type))
        tokenizer.save_pretrained(saved)
        reloaded = AutoTokenizer.from_pretrained(saved)
        assert type(reloaded) is type(tokenizer)
        assert reloaded.get_vocab() == tokenizer.get_vocab()
        assert reloaded.special_tokens_map == tokenizer.special_tokens_map
        for text in self.tokenizer_texts:
            ids = tokenizer(text)["input_ids"]
            assert reloaded(text)["input_ids"] == ids, f"ids differ after save/load for {text!r}"
            assert reloaded.decode(ids) == tokenizer.decode(ids)
        texts = [text for text in self.tokenizer_texts if text]
        assert reloaded(texts, padding=True)["input_ids"] == tokenizer(texts, padding=True)["input_ids"]

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _accepted(model: torch.nn.Module, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments ``model.forward`` accepts (a family may not take every input)."""
        parameters = inspect.signature(model.forward).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            return arguments
        return {name: value for name, value in arguments.items() if name in parameters}

    @staticmethod
    def _deletable_key(model: PreTrainedModel, saved: dict[str, torch.Tensor]) -> str:
        """A saved parameter not shared with another name, preferring one of the head."""
        names_by_tensor: dict[int, list[str]] = {}
        for name, parameter in model.named_parameters(remove_duplicate=False):
            names_by_tensor.setdefault(id(parameter), []).append(name)
        untied = sorted(
            names[0] for names in names_by_tensor.values() if len(names) == 1 and names[0] in saved
        )
        prefix = f"{model.base_model_prefix}." if model.base_model_prefix else None
        head = [name for name in untied if prefix and not name.startswith(prefix)]
        candidates = head or untied
        assert candidates, "the checkpoint has no untied parameter to delete"
        return candidates[-1]
