"""The ``autohub`` command: ``autohub plugins | inspect | run``.

``plugins`` lists what discovery found, ``inspect`` summarises a checkpoint without
loading its weights, ``run`` executes a task (:mod:`autohub_core.tasks`) on texts from the
arguments, a file, or stdin. Errors autohub raises on purpose print one line and exit with
status 2 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import sys
import textwrap
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from autohub_core.errors import AutohubError, WeightsError

__all__ = ["checkpoint_summary", "main", "plugins_summary"]

EXIT_USAGE = 2
EXIT_INTERNAL = 1
EXIT_INTERRUPTED = 130
_SAFETENSORS_DTYPE_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
}
_SAFETENSORS_DTYPE_NAMES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16"}
_CONFIG_SUMMARY_KEYS = (
    "model_type",
    "architectures",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
    "num_labels",
    "problem_type",
    "dtype",
)


# -- plugins --------------------------------------------------------------------------------------


def plugins_summary() -> dict[str, Any]:
    """What plugin discovery found: each plugin with what it declares, and any conflicts."""
    from autohub_core.plugins import get_registry, list_plugins
    from autohub_core.registry import PREPROCESSOR_KINDS

    plugins = []
    for info in list_plugins():
        declared: dict[str, Any] = {
            "model_types": [],
            "heads": {},
            "tokenizers": {},
            "models": {},
            "preprocessors": {},
        }
        for declaration in info.declarations:
            if declaration.kind in PREPROCESSOR_KINDS:
                declared["preprocessors"].setdefault(declaration.kind, {})[declaration.model_type] = (
                    declaration.target
                )
            elif declaration.kind == "config":
                declared["model_types"].append(declaration.model_type)
            elif declaration.kind == "head":
                declared["heads"].setdefault(declaration.model_type, {})[declaration.task] = (
                    declaration.target
                )
            elif declaration.kind == "tokenizer":
                declared["tokenizers"][declaration.model_type] = declaration.target
            else:
                declared["models"][declaration.model_type] = declaration.target
        plugins.append(
            {
                "name": info.name,
                "plugin_id": info.plugin_id,
                "module": info.module,
                "distribution": info.distribution,
                "version": info.version,
                "loaded": info.loaded,
                "error": info.error,
                "import_seconds": info.import_seconds,
                "collision": info.collision,
                **declared,
            }
        )
    return {"plugins": plugins, "conflicts": list(get_registry().conflicts)}


_IMPORT_COLUMN = 11  # "  1234.5 ms" then two spaces: the import-time column


def _print_plugins(summary: dict[str, Any], out: TextIO) -> None:
    if not summary["plugins"]:
        out.write("no autohub plugins installed (pip install autohub-<family>)\n")
        return
    indent = " " * (_IMPORT_COLUMN + 2)
    out.write(f"{'import':>{_IMPORT_COLUMN}}  plugin (distribution version) [module]\n")
    for plugin in summary["plugins"]:
        origin = f"{plugin['distribution'] or '?'} {plugin['version'] or ''}".strip()
        milliseconds = f"{plugin['import_seconds'] * 1000:.1f} ms"
        out.write(f"{milliseconds:>{_IMPORT_COLUMN}}  {plugin['plugin_id']} ({origin})")
        if not plugin["loaded"]:
            error = " / ".join(line.strip() for line in plugin["error"].splitlines())  # one line each
            out.write(f": FAILED to load: {error}\n")
        else:
            out.write(f" [{plugin['module']}]\n")
            out.write(f"{indent}model types: {', '.join(plugin['model_types']) or '-'}\n")
            for model_type, target in sorted(plugin["models"].items()):
                out.write(f"{indent}model {model_type}: {target}\n")
            for model_type, heads in sorted(plugin["heads"].items()):
                out.write(f"{indent}heads {model_type}:\n")
                for task, target in sorted(heads.items()):
                    out.write(f"{indent}  {task} -> {target}\n")
            for model_type, target in sorted(plugin["tokenizers"].items()):
                out.write(f"{indent}tokenizer {model_type}: {target}\n")
            for kind, targets in sorted(plugin["preprocessors"].items()):
                for model_type, target in sorted(targets.items()):
                    out.write(f"{indent}{kind} {model_type}: {target}\n")
    collisions = dict.fromkeys(plugin["collision"] for plugin in summary["plugins"] if plugin["collision"])
    for conflict in [*collisions, *summary["conflicts"]]:
        out.write(f"conflict: {conflict}\n")


# -- inspect --------------------------------------------------------------------------------------


_PREPROCESSOR_AUTO_CLASSES = {
    "AutoImageProcessor": "image-processor",
    "AutoFeatureExtractor": "feature-extractor",
    "AutoProcessor": "processor",
}


def checkpoint_summary(name_or_path: str, **hub_options: Any) -> dict[str, Any]:
    """Config, resolved plugin and classes, parameter count and dtypes of a checkpoint.

    Parameters are counted from the safetensors headers, reading no tensor data (a repo id
    online: HTTP range requests for the headers, only the index of a sharded checkpoint is
    downloaded); a checkpoint without safetensors is counted by building the model on the
    meta device.
    """
    from autohub_core.auto import BASE_TASK, TASKS, AutoConfig
    from autohub_core.hub import HubOptions
    from autohub_core.plugins import get_registry

    options = HubOptions.pop_from(dict(hub_options))
    config = AutoConfig.from_pretrained(name_or_path, **vars(options))
    registry = get_registry()
    model_type = config.model_type
    plugin_name = registry.source("config", model_type)
    plugin = next((p for p in _plugin_infos() if p.plugin_id == plugin_name), None)
    classes: dict[str, str | None] = {}
    for auto_name, task in TASKS.items():
        if auto_name == "AutoModelForVision2Seq":  # AutoModelForImageTextToText under its old name
            continue
        if task == BASE_TASK:
            classes[auto_name] = registry.target("model", model_type)
        else:
            classes[auto_name] = registry.target("head", model_type, task)
    classes["AutoConfig"] = registry.target("config", model_type)
    classes["AutoTokenizer"] = registry.target("tokenizer", model_type)
    for auto_name, kind in _PREPROCESSOR_AUTO_CLASSES.items():
        classes[auto_name] = registry.target(kind, model_type)
    config_dict = config.to_dict()
    weights = _weights_summary(name_or_path, options)
    if weights is None:
        weights = _meta_weights_summary(config)
    return {
        **_summary_head(name_or_path, model_type, plugin_name, plugin, config, config_dict, classes),
        **weights,
        **_placement_summary(config, classes),
    }


def _summary_head(
    name_or_path: str,
    model_type: str,
    plugin_name: str | None,
    plugin: Any,
    config: Any,
    config_dict: dict[str, Any],
    classes: dict[str, str | None],
) -> dict[str, Any]:
    return {
        "name_or_path": str(name_or_path),
        "model_type": model_type,
        "plugin": plugin_name,
        "distribution": plugin.distribution if plugin else None,
        "version": plugin.version if plugin else None,
        "config": {key: config_dict[key] for key in _CONFIG_SUMMARY_KEYS if config_dict.get(key) is not None},
        "labels": [config.id2label[i] for i in sorted(config.id2label)]
        if config_dict.get("id2label")
        else [],
        "classes": classes,
    }


def _placement_summary(config: Any, classes: dict[str, str | None]) -> dict[str, Any]:
    """What the family declares for placing the checkpoint's architecture (else its base model):
    accelerate's unit (``_no_split_modules``) and the tensor-parallel plan, read off the class
    built on the meta device."""
    import torch

    from autohub_core.auto import BASE_TASK, TASKS, auto_class_for_task
    from autohub_core.parallel import declared_plan

    architectures = config.architectures if isinstance(config.architectures, list) else []
    architecture = architectures[0] if architectures else None
    task = next(
        (
            TASKS[auto_name]
            for auto_name, target in classes.items()
            if auto_name in TASKS and target and target.rpartition(":")[2] == architecture
        ),
        BASE_TASK,
    )
    try:
        with torch.device("meta"):
            model = auto_class_for_task(task).from_config(config)
    except AutohubError as error:  # the summary still shows what config.json says
        return {"placement_class": None, "no_split_modules": [], "tp_plan": {}, "placement_error": str(error)}
    return {
        "placement_class": type(model).__name__,
        "no_split_modules": list(model._no_split_modules or []),
        "tp_plan": declared_plan(model),
    }


def _plugin_infos() -> list[Any]:
    from autohub_core.plugins import list_plugins

    return list_plugins()


def _weights_summary(name_or_path: str, options: Any) -> dict[str, Any] | None:
    """Count parameters (floating-point tensors) from the safetensors header(s), reading no tensor data."""
    from autohub_core.hub import read_safetensors_header, resolve_file
    from autohub_core.modeling import SAFE_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME, _read_index

    single = read_safetensors_header(name_or_path, SAFE_WEIGHTS_NAME, options, required=False)
    if single is not None:
        headers = {SAFE_WEIGHTS_NAME: single}
    else:
        index = resolve_file(name_or_path, SAFE_WEIGHTS_INDEX_NAME, options, required=False)
        if index is None:
            return None
        shards = sorted(set(_read_index(index).values()))
        headers = {shard: read_safetensors_header(name_or_path, shard, options) for shard in shards}
    parameters = 0
    dtypes: Counter[str] = Counter()
    size = 0
    tensors = 0
    for file_name, header in headers.items():
        assert header is not None
        if not header:  # loading refuses it too: it would give a model of random weights
            raise WeightsError(f"{file_name} of {name_or_path} holds no tensors (its header is empty)")
        for dtype, shape in header.values():
            count = math.prod(shape)
            if dtype in _SAFETENSORS_DTYPE_NAMES:  # integer tensors are buffers (position ids)
                parameters += count
            tensors += 1
            dtypes[_SAFETENSORS_DTYPE_NAMES.get(dtype, dtype.lower())] += count
            size += count * _SAFETENSORS_DTYPE_BYTES.get(dtype, 0)
    return {
        "parameters": parameters,
        "dtype": dtypes.most_common(1)[0][0] if dtypes else None,
        "dtypes": dict(dtypes),
        "tensors": tensors,
        "weights_bytes": size,
        "weights_files": list(headers),
        "counted_from": "safetensors header",
    }


def _meta_weights_summary(config: Any) -> dict[str, Any]:
    """Parameter count of a checkpoint without safetensors: build the base model on meta."""
    import torch

    from autohub_core.auto import AutoModel

    with torch.device("meta"):
        model = AutoModel.from_config(config)
    dtype = config.dtype or "float32"
    parameters = model.num_parameters()
    return {
        "parameters": parameters,
        "dtype": str(dtype).removeprefix("torch."),
        "dtypes": {str(dtype).removeprefix("torch."): parameters},
        "tensors": len(list(model.parameters())),
        "weights_bytes": None,
        "weights_files": [],
        "counted_from": "model built on the meta device (base model, no safetensors file)",
    }


def _print_summary(summary: dict[str, Any], out: TextIO) -> None:
    origin = f"{summary['distribution']} {summary['version']}" if summary["distribution"] else "runtime"
    out.write(f"{summary['name_or_path']}\n")
    out.write(f"  model_type: {summary['model_type']} (plugin {summary['plugin']}, {origin})\n")
    for key, value in summary["config"].items():
        if key != "model_type":
            out.write(f"  {key}: {value}\n")
    if summary["labels"]:
        out.write(f"  labels: {', '.join(map(str, summary['labels']))}\n")
    out.write(f"  parameters: {summary['parameters']:,} ({_human(summary['parameters'])})\n")
    dtypes = ", ".join(f"{name} {count:,}" for name, count in summary["dtypes"].items())
    out.write(f"  dtype: {summary['dtype']} ({dtypes}; counted from {summary['counted_from']})\n")
    if summary["weights_files"]:
        out.write(f"  weights: {', '.join(summary['weights_files'])} ({_human(summary['weights_bytes'])}B)\n")
    out.write("  classes:\n")
    for auto_name, target in summary["classes"].items():
        out.write(f"    {auto_name}: {target or '-'}\n")
    if summary["placement_class"] is None:
        out.write(f"  placement: - (the model cannot be built: {summary['placement_error']})\n")
        return
    out.write(f"  placement ({summary['placement_class']}):\n")
    out.write(f"    no_split_modules: {', '.join(summary['no_split_modules']) or '-'}\n")
    out.write(f"    tp_plan:{'' if summary['tp_plan'] else ' -'}\n")
    for pattern, style in summary["tp_plan"].items():
        out.write(f"      {pattern}: {style}\n")


def _human(number: int | None) -> str:
    if number is None:
        return "?"
    value = float(number)
    for unit in ("", "K", "M", "G", "T"):
        if abs(value) < 1000 or unit == "T":
            return f"{value:.1f}{unit}" if unit else f"{int(value)}"
        value /= 1000
    return str(number)


# -- run ------------------------------------------------------------------------------------------


def _progress_bar(total: int, label: str, stream: TextIO) -> Any:
    """A tqdm bar on ``stream``; call ``update(count)`` per finished item and ``close()`` at the end."""
    from tqdm import tqdm

    return tqdm(total=total, desc=label, file=stream, unit="text", leave=True)


def _read_texts(args: argparse.Namespace, stdin: TextIO) -> list[str]:
    texts = list(args.texts)
    if args.file is not None:
        path = Path(args.file)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise _UsageError(f"cannot read --file {path}: {error}") from error
        texts.extend(line for line in lines if line.strip())
    if not texts and args.file is None:
        if stdin.isatty():
            raise _UsageError("no input: give texts as arguments, --file PATH, or pipe lines on stdin")
        texts.extend(line.rstrip("\n") for line in stdin if line.strip())
    if not texts:
        raise _UsageError("no input texts (empty file or stdin)")
    return texts


_GENERATION_TASKS = ("text-generation", "text2text-generation", "summarization", "translation")
_TOP_K_TASKS = ("text-classification", "fill-mask", "image-classification", "audio-classification")
#: Tasks whose inputs are file paths (images or audio) rather than texts.
_FILE_TASKS = (
    "image-classification",
    "zero-shot-image-classification",
    "automatic-speech-recognition",
    "audio-classification",
)
_SAMPLING_FLAGS = (("temperature", "--temperature"), ("top_p", "--top-p"), ("seed", "--seed"))


def _check_task_options(args: argparse.Namespace) -> None:
    """Refuse options that do not apply to ``--task`` (rather than ignoring them)."""
    generating = args.task in _GENERATION_TASKS
    if args.similarity and args.task != "feature-extraction":
        raise _UsageError("--similarity only applies to --task feature-extraction")
    if args.context is not None and args.task != "question-answering":
        raise _UsageError("--context only applies to --task question-answering")
    if (args.src_lang is not None or args.tgt_lang is not None) and args.task != "translation":
        raise _UsageError("--src-lang and --tgt-lang only apply to --task translation")
    if args.labels is not None and args.task != "zero-shot-image-classification":
        raise _UsageError("--labels only applies to --task zero-shot-image-classification")
    if args.task == "zero-shot-image-classification" and args.labels is None:
        raise _UsageError(
            "zero-shot-image-classification needs --labels (comma-separated, e.g. --labels cat,dog)"
        )
    if args.top_k is not None and args.task not in _TOP_K_TASKS and not generating:
        raise _UsageError(f"--top-k only applies to {', '.join(_TOP_K_TASKS)} and generation tasks")
    if not generating:
        for name, flag in (
            ("max_new_tokens", "--max-new-tokens"),
            ("do_sample", "--do-sample"),
            *_SAMPLING_FLAGS,
        ):
            if name == "max_new_tokens" and args.task == "automatic-speech-recognition":
                continue  # a speech seq2seq model (Whisper) generates its transcription
            if getattr(args, name) not in (None, False):
                raise _UsageError(f"{flag} only applies to generation tasks ({', '.join(_GENERATION_TASKS)})")
    elif not args.do_sample:
        flags = [
            flag for name, flag in (*_SAMPLING_FLAGS, ("top_k", "--top-k")) if getattr(args, name) is not None
        ]
        if flags:
            raise _UsageError(f"{', '.join(flags)} only apply with --do-sample")


def _run(args: argparse.Namespace, out: TextIO, err: TextIO, stdin: TextIO) -> int:
    from autohub_core.tasks import load_task

    _check_task_options(args)
    texts = _read_texts(args, stdin)
    hub = {"revision": args.revision, "cache_dir": args.cache_dir, "local_files_only": args.offline}
    if args.task in _GENERATION_TASKS:
        _require_generation(args.task)
    task = load_task(args.model, args.task, device=args.device, dtype=args.dtype, **hub)
    show_progress = args.progress or (err.isatty() and len(texts) > args.batch_size)
    bar = (
        _progress_bar(len(texts), args.task, err)
        if show_progress and args.task not in _GENERATION_TASKS
        else None
    )
    try:
        _run_task(args, task, texts, out, err, bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    return 0


def _run_task(
    args: argparse.Namespace,
    task: Any,
    texts: list[str],
    out: TextIO,
    err: TextIO,
    progress: Callable[[int], Any] | None,
) -> None:
    common = {"batch_size": args.batch_size, "progress": progress}
    if args.task == "token-classification":
        results: Any = task.run(texts, aggregation=args.aggregation, **common)
        _emit(args, out, texts, results, _format_entities)
    elif args.task == "text-classification":
        results = task.run(texts, top_k=args.top_k or 1, **common)
        _emit(args, out, texts, results, _format_labels)
    elif args.task == "fill-mask":
        results = task.run(texts, top_k=args.top_k or 5, **common)
        _emit(args, out, texts, results, _format_fill_mask)
    elif args.task == "feature-extraction" and args.similarity:
        scores = task.similarity(texts, **common)
        pairs = [(texts[2 * i], texts[2 * i + 1], score) for i, score in enumerate(scores)]
        if args.json:
            json.dump([{"text_1": a, "text_2": b, "similarity": s} for a, b, s in pairs], out)
            out.write("\n")
        else:
            for a, b, score in pairs:
                out.write(f"{score:.6f}\t{a}\t{b}\n" if len(pairs) > 1 else f"{score:.6f}\n")
    elif args.task == "feature-extraction":
        results = task.run(texts, **common)
        _emit(args, out, texts, results, _format_embedding)
    elif args.task == "question-answering":
        results = task.run(texts, context=args.context, **common)
        _emit(args, out, texts, results, _format_answer)
    elif args.task in ("image-classification", "audio-classification"):
        results = task.run(texts, top_k=args.top_k or 5, **common)
        _emit(args, out, texts, results, _format_labels)
    elif args.task == "zero-shot-image-classification":
        results = task.run(texts, candidate_labels=args.labels.split(","), **common)
        _emit(args, out, texts, results, _format_labels)
    elif args.task == "automatic-speech-recognition":
        limit = {"max_new_tokens": args.max_new_tokens} if args.max_new_tokens is not None else None
        results = task.run(texts, generate_kwargs=limit, **common)
        _emit(args, out, texts, results, lambda result: f"  {result['text']}\n")
    else:
        _generate(args, task, texts, out, err)


def _generate(args: argparse.Namespace, task: Any, texts: list[str], out: TextIO, err: TextIO) -> None:
    """Stream each generated text after its prompt (or print JSON); warnings wait for the line's end."""
    task.check_can_generate()
    options: dict[str, Any] = {"do_sample": True} if args.do_sample else {}
    for name in ("max_new_tokens", "temperature", "top_p", "top_k", "seed"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    if args.task == "translation":
        options.update(src_lang=args.src_lang, tgt_lang=args.tgt_lang)
    stream = None if args.json else _stream_to(out)
    results = []
    for text in texts:
        with _deferred_diagnostics(err):
            if stream is not None and args.task == "text-generation":  # the continuation follows its prompt
                out.write(text)
                out.flush()
            (result,) = task.run([text], stream=stream, **options)
            if stream is not None:
                out.write("\n")
                out.flush()
        results.append(result)
    if args.json:
        records = [
            {"text": text, **(result if isinstance(result, dict) else {"generated_text": result})}
            for text, result in zip(texts, results, strict=True)
        ]
        json.dump(records, out)
        out.write("\n")


@contextlib.contextmanager
def _deferred_diagnostics(err: TextIO) -> Iterator[None]:
    """Hold back warnings and log records while text streams to stdout; print them to ``err`` after."""
    held: list[str] = []

    class Hold(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            held.append(record.getMessage())

    handler = Hold(logging.WARNING)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            yield
    finally:
        root.removeHandler(handler)
        held.extend(str(warning.message) for warning in caught)
        for message in held:
            err.write(f"autohub: warning: {message}\n")
        err.flush()


def _require_generation(task: str) -> None:
    import importlib.util

    if importlib.util.find_spec("autohub_core.generation") is None:
        raise _UsageError(f"{task} needs autohub_core.generation, which this autohub version lacks")


def _stream_to(out: TextIO) -> Callable[[str], None]:
    def write(piece: str) -> None:
        out.write(piece)
        out.flush()

    return write


def _emit(
    args: argparse.Namespace,
    out: TextIO,
    texts: Sequence[str],
    results: Sequence[Any],
    formatter: Callable[[Any], str],
) -> None:
    if args.json:
        json.dump(
            [{"text": text, "result": result} for text, result in zip(texts, results, strict=True)], out
        )
        out.write("\n")
        return
    for text, result in zip(texts, results, strict=True):
        if len(texts) > 1:
            out.write(f"{text}\n")
        out.write(formatter(result))


def _format_entities(entities: list[dict[str, Any]]) -> str:
    if not entities:
        return "  (no entities)\n"
    lines = []
    for entity in entities:
        label = entity.get("entity_group", entity.get("entity"))
        lines.append(
            f"  {label}\t{entity['score']:.4f}\t{entity['start']}-{entity['end']}\t{entity['word']}\n"
        )
    return "".join(lines)


def _format_labels(labels: list[dict[str, Any]]) -> str:
    return "".join(f"  {item['label']}\t{item['score']:.4f}\n" for item in labels)


def _format_fill_mask(per_mask: list[list[dict[str, Any]]]) -> str:
    lines = []
    for index, propositions in enumerate(per_mask):
        if len(per_mask) > 1:
            lines.append(f"  mask {index + 1}:\n")
        lines.extend(f"  {p['score']:.4f}\t{p['token_str']}\t{p['sequence']}\n" for p in propositions)
    return "".join(lines)


def _format_embedding(embedding: list[float]) -> str:
    return " ".join(f"{value:.6f}" for value in embedding) + "\n"


def _format_answer(answer: dict[str, Any]) -> str:
    return f"  {answer['answer']}\t{answer['score']:.4f}\t{answer['start']}-{answer['end']}\n"


# -- argument parsing -------------------------------------------------------------------------


class _UsageError(AutohubError):
    """Bad command-line input (no texts, options that do not fit the task)."""


_COMMANDS = {
    "plugins": "list installed plugins and what they provide",
    "inspect": "summarise a checkpoint without loading its weights",
    "run": "run a model on texts, images or audio files",
}


class _ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: values quoted in a message keep their newlines escaped."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        one_line = message.replace("\r", "\\r").replace("\n", "\\n")
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line}\n")


def _parser() -> argparse.ArgumentParser:
    """The top level: global options, the command name, and the command's own arguments."""
    from autohub_core import __version__

    epilog = "commands:\n" + "".join(f"  {name:<9} {text}\n" for name, text in _COMMANDS.items())
    parser = _ArgumentParser(
        prog="autohub",
        description="Inspect autohub plugins and checkpoints, and run models on texts, images and audio.",
        epilog=epilog + "\nrun 'autohub COMMAND --help' for a command's options",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"autohub {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    parser.add_argument("command", choices=tuple(_COMMANDS), metavar="COMMAND", help=", ".join(_COMMANDS))
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


#: What ``autohub run --task TASK --help`` adds: the task's inputs, options and output.
_TASK_HELP = {
    "token-classification": "label each token of each text (NER); --aggregation groups sub-words into entities",
    "text-classification": "classify each text; --top-k labels with scores (default 1)",
    "fill-mask": "predict the tokens behind the mask token of each text; --top-k propositions (default 5)",
    "feature-extraction": "one embedding per text, pooled as the checkpoint's sentence-transformers modules "
    "declare (default: mean-pooled, L2-normalised); --similarity scores pairs",
    "question-answering": "answer each question (INPUT) from --context",
    "text-generation": "continue each prompt; --max-new-tokens, --do-sample, --temperature, --top-p, --top-k, --seed",
    "text2text-generation": "sequence-to-sequence generation (T5) on each text; generation options as text-generation",
    "summarization": "summarize each text with a seq2seq model; generation options as text-generation",
    "translation": "translate each text; --src-lang / --tgt-lang where the model needs them",
    "image-classification": "classify image files (PNG, JPEG ... anything Pillow opens; INPUT are paths); "
    "--top-k labels with scores (default 5)",
    "zero-shot-image-classification": "score image files (INPUT are paths) against --labels a,b,c with a "
    "CLIP-style model ('This is a photo of {label}.'); every label with its score, best first",
    "automatic-speech-recognition": "transcribe audio files (INPUT are paths): 16-bit (8/24/32-bit) PCM WAV "
    "through the standard library, FLAC / OGG / float WAV through soundfile (pip install 'autohub-core[audio]'), "
    "mono or averaged to mono, at the model's sampling rate (16 kHz for Whisper and Wav2Vec2); a CTC model "
    "(Wav2Vec2) or a speech seq2seq model (Whisper, up to 30 s per file; 5 beams unless the model's generation "
    "config says otherwise, as transformers' pipeline; --max-new-tokens caps the transcription)",
    "audio-classification": "classify audio files (INPUT are paths; formats as automatic-speech-recognition); "
    "--top-k labels with scores (default 5)",
}


def _task_in(arguments: Sequence[str]) -> str | None:
    """The value of ``--task`` among raw ``run`` arguments (for ``--help`` of one task)."""
    for index, argument in enumerate(arguments):
        if argument == "--task" and index + 1 < len(arguments):
            return arguments[index + 1]
        if argument.startswith("--task="):
            return argument.partition("=")[2]
    return None


def _command_parser(command: str, task: str | None = None) -> argparse.ArgumentParser:
    from autohub_core.tasks import AGGREGATION_STRATEGIES, TASK_NAMES

    description = _COMMANDS[command]
    if command == "run" and task in _TASK_HELP:
        description += "\n\n" + textwrap.fill(f"--task {task}: {_TASK_HELP[task]}", width=88)
    parser = _ArgumentParser(
        prog=f"autohub {command}",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    parser.add_argument("--json", action="store_true", help="print JSON")
    if command == "plugins":
        return parser
    parser.add_argument("model", help="a local directory or a Hub repo id")
    _add_hub_arguments(parser)
    if command == "inspect":
        return parser
    parser.add_argument(
        "texts",
        nargs="*",
        metavar="INPUT",
        help="input texts, or image / audio file paths for those tasks (else --file or stdin lines)",
    )
    parser.add_argument(
        "--task",
        required=True,
        choices=TASK_NAMES,
        metavar="TASK",
        help=f"what to run: {', '.join(TASK_NAMES)}",
    )
    parser.add_argument("--file", help="read inputs (texts or file paths) from this file, one per line")
    parser.add_argument(
        "--batch-size", type=_positive_int, default=8, help="texts per forward pass (default 8)"
    )
    parser.add_argument(
        "--progress", action="store_true", help="show a progress bar even when stderr is no tty"
    )
    parser.add_argument("--device", help="cpu, cuda, cuda:1, mps ... (default cpu)")
    parser.add_argument("--dtype", choices=("auto", "float32", "float16", "bfloat16"), help="weights dtype")
    parser.add_argument(
        "--top-k",
        type=_positive_int,
        help="labels (text-classification, default 1; image- and audio-classification, default 5), "
        "tokens (fill-mask, default 5), or the k most likely tokens to sample from (generation with "
        "--do-sample)",
    )
    parser.add_argument(
        "--aggregation",
        choices=AGGREGATION_STRATEGIES,
        default="none",
        help="token-classification: how to group tokens into entities (default none)",
    )
    parser.add_argument(
        "--similarity",
        action="store_true",
        help="feature-extraction: cosine similarity of each pair of texts",
    )
    parser.add_argument("--context", help="question-answering: the text to find answers in")
    parser.add_argument(
        "--labels", help="zero-shot-image-classification: the candidate labels, comma-separated (cat,dog)"
    )
    parser.add_argument("--src-lang", help="translation: source language code (e.g. en)")
    parser.add_argument("--tgt-lang", help="translation: target language code (e.g. de)")
    parser.add_argument(
        "--max-new-tokens",
        type=_positive_int,
        help="generation and speech recognition with a seq2seq model: tokens to generate (default 20 "
        "for text-generation, else the model's generation config)",
    )
    parser.add_argument(
        "--do-sample", action="store_true", help="generation: sample tokens instead of greedy decoding"
    )
    parser.add_argument(
        "--temperature", type=_positive_float, help="generation with --do-sample: logits divisor (default 1)"
    )
    parser.add_argument(
        "--top-p",
        type=_probability,
        help="generation with --do-sample: sample from the smallest token set with this total probability",
    )
    parser.add_argument(
        "--seed", type=_seed, help="generation with --do-sample: random seed (same seed, same text)"
    )
    return parser


def _add_hub_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--revision", help="Hub branch, tag or commit")
    parser.add_argument("--cache-dir", help="Hub cache directory (default: the shared HF cache)")
    parser.add_argument("--offline", action="store_true", help="use cached files only (local_files_only)")


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return number


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not math.isfinite(number) or number <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be a finite number above 0")
    return number


def _probability(value: str) -> float:
    number = _positive_float(value)
    if number > 1:
        raise argparse.ArgumentTypeError(f"{value} must be within (0, 1]")
    return number


def _seed(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if not 0 <= number < 2**63:
        raise argparse.ArgumentTypeError(f"{value} must be within [0, 2**63)")
    return number


def main(argv: Sequence[str] | None = None, *, stdin: TextIO | None = None) -> int:
    """Entry point of the ``autohub`` console script; returns the exit status.

    0: success. 2: a problem with the input autohub detected (one line on stderr; argparse's
    usage errors too). 1: anything else reached this far, an autohub bug or an exception a
    plugin or native library let through (one line on stderr, ``--debug`` shows the traceback).
    130: interrupted (Ctrl-C).
    """
    # torch warns on import when numpy is absent (a wheel-only install); it works without it.
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy", category=UserWarning)
    out, err = sys.stdout, sys.stderr
    stdin = stdin if stdin is not None else sys.stdin
    try:
        top = _parser().parse_args(argv)
        args = _command_parser(top.command, _task_in(top.arguments)).parse_intermixed_args(top.arguments)
    except KeyboardInterrupt:
        return _interrupted(err)
    args.command = top.command
    args.debug = args.debug or top.debug
    if not args.debug:  # a Rust panic (tokenizers) prints its message; its backtrace only with --debug
        os.environ["RUST_BACKTRACE"] = "0"
    try:
        if args.command == "plugins":
            summary = plugins_summary()
            if args.json:
                json.dump(summary, out, indent=2)
                out.write("\n")
            else:
                _print_plugins(summary, out)
            return 0
        if args.command == "inspect":
            hub = {"revision": args.revision, "cache_dir": args.cache_dir, "local_files_only": args.offline}
            summary = checkpoint_summary(args.model, **hub)
            if args.json:
                json.dump(summary, out, indent=2)
                out.write("\n")
            else:
                _print_summary(summary, out)
            return 0
        return _run(args, out, err, stdin)
    except KeyboardInterrupt:
        return _interrupted(err)
    except AutohubError as error:
        if args.debug:
            raise
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        err.write(f"autohub: error: {message}\n")
        return EXIT_USAGE
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        return EXIT_INTERNAL
    except BaseException as error:  # a bug, or SystemExit / a native panic let through: one line
        if args.debug:
            raise
        message = str(error).splitlines()[0] if str(error) else ""
        err.write(
            f"autohub: internal error: {type(error).__name__}: {message} (raised at {_raised_at(error)}; "
            "please report it with the output of --debug)\n"
        )
        return EXIT_INTERNAL


def _interrupted(err: TextIO) -> int:
    err.write("autohub: interrupted\n")
    return EXIT_INTERRUPTED


def _raised_at(error: BaseException) -> str:
    """``file.py:line`` of the innermost frame ``error`` went through."""
    frames = traceback.extract_tb(error.__traceback__)
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"


def _console_main() -> None:
    sys.exit(main())


if __name__ == "__main__":
    _console_main()
