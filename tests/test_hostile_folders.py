"""Every public entry point on every hostile folder of the catalogue lets out only ``AutohubError``.

The entry points: ``AutoConfig`` / ``AutoTokenizer`` / ``AutoModelFor*.from_pretrained``, tokenizer
calls (encode, pad, truncate, decode), ``apply_chat_template``, ``GenerationConfig.from_pretrained``,
``generate`` and both ``save_pretrained``. Each runs under a time and memory allowance
(:func:`hostile_folders.bounded`), so unbounded work fails the test instead of hanging it.

Two targets, each counting its cases (printed at the end of the module, ``-s``):

- the grid: every shape of the catalogue through every entry point;
- a hypothesis fuzz: stacks of shapes (several files broken at once) through the entry points with
  hypothesis-chosen texts, messages and call arguments.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from autohub_core import (
    AutoConfig,
    AutohubError,
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    limits,
)
from autohub_core.generation import GenerationConfig

sys.path.insert(0, str(Path(__file__).parent))  # the helpers beside this file (pytest runs in importlib mode)
import hostile_folders
from hostile_folders import CATALOGUE, MESSAGES, TEXTS, bounded, origin

CASES: Counter[str] = Counter()
HEADS = {"bert": AutoModelForMaskedLM, "llama": AutoModelForCausalLM}
#: Small caps so that the shapes exceeding them are refused fast (what the caps are for).
TEST_LIMITS = {
    "max_new_tokens": 64,
    "max_num_labels": 10_000,
    "chat_template_seconds": 2.0,
    "chat_template_output_chars": 1_000_000,
    "chat_template_loop_iterations": 100_000,
}


@pytest.fixture(scope="module", autouse=True)
def small_limits() -> Iterator[None]:
    limits.configure(**TEST_LIMITS)
    yield
    limits.reset()


@pytest.fixture(scope="module", autouse=True)
def report_case_counts() -> Iterator[None]:
    yield
    print("\nhostile-folder cases run per target:")
    for target, count in sorted(CASES.items()):
        print(f"  {target:<32} {count}")


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return hostile_folders.save_bases(tmp_path_factory.mktemp("bases"))


class Escaped(AssertionError):
    """An entry point let out something other than an AutohubError."""


class Calls:
    """The entry points, called one after the other on one folder; each records its outcome.

    A typed error ends only the steps that need the failed step's result (no tokenizer: no
    tokenizer call, but the model is still loaded).
    """

    def __init__(self, folder: Path, base: str, scratch: Path) -> None:
        self.folder, self.base, self.scratch = folder, base, scratch
        self.outcomes: dict[str, str] = {}

    def call(self, step: str, operation: Any) -> Any:
        CASES[f"entry point: {step}"] += 1
        try:
            with bounded():
                result = operation()
        except AutohubError as error:
            self.outcomes[step] = type(error).__name__
            return None
        except BaseException as error:
            raise Escaped(
                f"{self.folder.name}: {step} let out {type(error).__module__}.{type(error).__name__}: "
                f"{str(error)[:300]} at {origin(error)}"
            ) from error
        self.outcomes[step] = "ok"
        return result if result is not None else True

    def refused(self) -> bool:
        return any(outcome != "ok" for outcome in self.outcomes.values())

    def run(self, **arguments: Any) -> None:
        """Every entry point; ``arguments`` vary the tokenizer and template calls (the fuzz)."""
        texts = arguments.get("texts", TEXTS)
        encode = {"padding": True, "truncation": True, "max_length": 16, **arguments.get("encode", {})}
        config = self.call("AutoConfig.from_pretrained", lambda: AutoConfig.from_pretrained(self.folder))
        if config is not None:
            self.call("config.to_json_string", config.to_json_string)
        tokenizer = self.call(
            "AutoTokenizer.from_pretrained", lambda: AutoTokenizer.from_pretrained(self.folder)
        )
        inputs = None
        if tokenizer is not None:
            inputs = self.call("tokenizer(texts)", lambda: tokenizer(texts, return_tensors="pt", **encode))
            if inputs is not None:
                self.call("tokenizer.batch_decode", lambda: tokenizer.batch_decode(inputs["input_ids"]))
            self.call(
                "tokenizer.encode(pair)", lambda: tokenizer.encode(texts[0], texts[-1], truncation=True)
            )
            if self.base == "llama":
                self.call(
                    "apply_chat_template",
                    lambda: tokenizer.apply_chat_template(
                        arguments.get("messages", MESSAGES),
                        add_generation_prompt=arguments.get("add_generation_prompt", True),
                    ),
                )
            self.call(
                "tokenizer.save_pretrained", lambda: tokenizer.save_pretrained(self.scratch / "tokenizer")
            )
        model = self.call(f"{HEADS[self.base].__name__}.from_pretrained", self._load_model)
        if model is not None:
            batch = dict(inputs) if inputs is not None else {"input_ids": torch.tensor([[1, 5, 6, 2]])}
            if self.base == "llama":
                batch.pop("token_type_ids", None)
            self.call("model(**inputs)", lambda: model(**batch))
            if self.base == "llama":
                self.call(
                    "generate",
                    lambda: model.generate(batch["input_ids"], attention_mask=batch.get("attention_mask")),
                )
            self.call("model.save_pretrained", lambda: model.save_pretrained(self.scratch / "model"))
        self.call(
            f"{HEADS[self.base].__name__}.from_pretrained(dtype='auto')",
            lambda: HEADS[self.base].from_pretrained(self.folder, dtype="auto"),
        )
        self.call(
            "AutoModelForSequenceClassification.from_pretrained",
            lambda: AutoModelForSequenceClassification.from_pretrained(self.folder),
        )
        if self.base == "llama":
            self.call(
                "GenerationConfig.from_pretrained", lambda: GenerationConfig.from_pretrained(self.folder)
            )

    def _load_model(self) -> Any:
        return HEADS[self.base].from_pretrained(self.folder)


def run_shape(names: list[str], bases: dict[str, Path], root: Path, **arguments: Any) -> Calls:
    work = Path(tempfile.mkdtemp(prefix="hostile-", dir=root))
    try:
        folder = hostile_folders.build_stacked(names, bases, work / "+".join(names))
        calls = Calls(folder, CATALOGUE[names[0]].base, work / "scratch")
        calls.run(**arguments)
        return calls
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_the_bases_pass_every_entry_point(bases: dict[str, Path], tmp_path: Path) -> None:
    for base in bases:
        calls = Calls(bases[base], base, tmp_path / base)
        calls.run()
        assert not calls.refused(), calls.outcomes


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_every_shape_through_every_entry_point(bases: dict[str, Path], tmp_path: Path, name: str) -> None:
    CASES["grid: shapes"] += 1
    calls = run_shape([name], bases, tmp_path)
    if CATALOGUE[name].must_refuse:
        assert calls.refused(), f"{name} was accepted by every entry point: {calls.outcomes}"


# -- hypothesis: stacked shapes x call arguments -------------------------------------------------

hostile_texts = st.lists(
    st.one_of(
        st.sampled_from(
            ["", " ", "hello world", "[MASK]", "<s></s>", "<|im_start|>", "a" * 2000, "\x00\ud7ff"]
        ),
        st.text(max_size=40),
    ),
    min_size=1,
    max_size=3,
)
hostile_messages = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["user", "assistant", "system", "", "tool"]),
            "content": st.one_of(st.text(max_size=30), st.just("{{ 7 * 7 }}"), st.just("a" * 5000)),
        }
    ),
    min_size=1,
    max_size=3,
)
encode_options = st.fixed_dictionaries(
    {},
    optional={
        "padding": st.sampled_from([True, False, "longest", "max_length", "do_not_pad"]),
        "truncation": st.sampled_from([True, False, "longest_first", "only_first"]),
        "max_length": st.sampled_from([1, 2, 16, 31, 512]),
    },
)


@st.composite
def shape_stacks(draw: st.DrawFn) -> list[str]:
    """One to three shapes of one base, each breaking a different file."""
    base = draw(st.sampled_from(["bert", "llama"]))
    names = draw(
        st.lists(st.sampled_from(hostile_folders.names_for(base)), min_size=1, max_size=3, unique=True)
    )
    while not hostile_folders.stackable(names):
        names.pop()
    return names


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    names=shape_stacks(),
    texts=hostile_texts,
    messages=hostile_messages,
    encode=encode_options,
    add_generation_prompt=st.booleans(),
)
def test_fuzz_stacked_shapes_and_arguments(
    bases: dict[str, Path],
    tmp_path: Path,
    names: list[str],
    texts: list[str],
    messages: list[dict[str, str]],
    encode: dict[str, Any],
    add_generation_prompt: bool,
) -> None:
    CASES["fuzz: stacked shapes x arguments"] += 1
    event(f"{len(names)} shape(s)")
    run_shape(
        names,
        bases,
        tmp_path,
        texts=texts,
        messages=messages,
        encode=encode,
        add_generation_prompt=add_generation_prompt,
    )
