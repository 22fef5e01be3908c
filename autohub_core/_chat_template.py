"""Chat templates rendered as transformers renders them, with bounded time, output and loops.

A template runs in jinja2's ``ImmutableSandboxedEnvironment`` (as in transformers), extended so
that hostile templates cannot hang or exhaust memory: every loop iteration (all loops of a
rendering together) counts against ``chat_template_loop_iterations``, the wall time against
``chat_template_seconds``, and the output, like any string, list or number the template builds,
against ``chat_template_output_chars`` (:mod:`autohub_core.limits`). Operations that multiply
sizes (``'a' * n``, ``10 ** n``, format widths, ``join``, ``replace``, ``center``...) are
refused *before* they compute. Every failure is a :class:`~autohub_core.errors.ChatTemplateError`.
Legitimate templates render byte for byte as in transformers.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import inspect
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import jinja2
import jinja2.ext
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.filters import make_attrgetter
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import generate_lorem_ipsum
from markupsafe import Markup

from autohub_core import limits
from autohub_core.errors import ChatTemplateError, TokenizerError

__all__ = ["render_chat_template"]

_CONTINUE_TAG = "CONTINUE_FINAL_MESSAGE_TAG "
_REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")
# printf-style conversions: width and precision are digits or "*" (taken from the arguments).
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_STRFTIME_WIDTH = re.compile(r"%[-_0^#]*(\d+)")
_DIGITS = re.compile(r"\d+")
_BITS_PER_DIGIT = math.log2(10)  # an int of n bits prints in about n / log2(10) digits
#: Integers a template may build: Python cannot even print one above 4300 digits, and arithmetic on
#: millions of digits takes seconds per operation.
MAX_INT_DIGITS = 100_000
_SIZED = (str, bytes, list, tuple, dict, set, frozenset)


class _Budget:
    """What one rendering may still spend: a deadline, loop iterations, characters."""

    def __init__(self) -> None:
        caps = limits.current()
        self.seconds = caps.chat_template_seconds
        self.deadline = time.monotonic() + caps.chat_template_seconds
        self.iterations_left = caps.chat_template_loop_iterations
        self.max_chars = caps.chat_template_output_chars

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise _limit_error("chat_template_seconds", f"the chat template ran for over {self.seconds} s")

    def iterations(self, count: int) -> None:
        self.iterations_left -= count
        if self.iterations_left < 0:
            raise _limit_error(
                "chat_template_loop_iterations",
                f"the chat template's loops ran over {limits.current().chat_template_loop_iterations} "
                "iterations",
            )
        self.tick()

    def size(self, chars: float, what: str) -> None:
        """Refuse to build ``what`` when it would hold more than ``max_chars`` characters (items)."""
        if chars > self.max_chars:
            raise _limit_error(
                "chat_template_output_chars", f"the chat template asks for {what} of {chars:.0f}"
            )

    def result(self, value: Any) -> Any:
        """Check the size of a value the template built (string, container or int) and return it."""
        if isinstance(value, _SIZED):
            self.size(len(value), f"a {type(value).__name__} of length")
        elif isinstance(value, int) and not isinstance(value, bool):
            self.digits(value.bit_length())
        return value

    def digits(self, bits: int) -> None:
        """Refuse to build an integer of ``bits`` bits when it has more than :data:`MAX_INT_DIGITS` digits."""
        if bits / _BITS_PER_DIGIT > MAX_INT_DIGITS:
            raise ChatTemplateError(
                f"the chat template asks for an integer of about {bits / _BITS_PER_DIGIT:.0f} digits; "
                f"templates may build integers of at most {MAX_INT_DIGITS} digits"
            )


def _limit_error(name: str, what: str) -> ChatTemplateError:
    return ChatTemplateError(
        f"{what}, over the limit {name}={getattr(limits.current(), name)}; raise it with the environment "
        f"variable {limits.Limits.env_var(name)} or autohub_core.limits.configure({name}=...) if this "
        "template is trusted"
    )


def _widths(spec: str) -> int:
    """The largest number written in a format spec (an upper bound of its width and precision)."""
    return max((int(digits) for digits in _DIGITS.findall(spec)), default=0)


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles every ``for`` loop over ``environment.bounded_loop(...)`` (recursive calls
    ``loop(...)`` too) and ``~`` into ``environment.bounded_concat(...)``."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        node.iter = _bounded_loop(node.iter)
        if node.recursive:
            for call in node.find_all(nodes.Call):
                if isinstance(call.node, nodes.Name) and call.node.name == "loop" and call.args:
                    call.args[0] = _bounded_loop(call.args[0])
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat(context, (")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


def _bounded_loop(iterable: nodes.Expr) -> nodes.Expr:
    if isinstance(iterable, nodes.Call) and isinstance(iterable.node, nodes.EnvironmentAttribute):
        return iterable  # already wrapped
    return nodes.Call(
        nodes.EnvironmentAttribute("bounded_loop"), [iterable], [], None, None, lineno=iterable.lineno
    )


class _GenerationTag(jinja2.ext.Extension):
    """transformers' ``{% generation %}...{% endgeneration %}`` (it marks the assistant's text for
    ``return_assistant_tokens_mask``): rendered as its body, as transformers renders it."""

    tags = {"generation"}

    def parse(self, parser: jinja2.parser.Parser) -> nodes.CallBlock:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

    def _body(self, caller: Callable[[], str]) -> str:
        return caller()


class _BoundedFormatterMixin:
    """``str.format`` fields whose width or precision exceeds the budget are refused unformatted."""

    _env: _BoundedSandbox

    def format_field(self, value: Any, format_spec: str) -> Any:
        self._env.budget.size(_widths(format_spec), "a format width")
        return self._env.budget.result(super().format_field(value, format_spec))  # type: ignore[misc]


class _BoundedFormatter(_BoundedFormatterMixin, SandboxedFormatter):
    pass


class _BoundedEscapeFormatter(_BoundedFormatterMixin, SandboxedEscapeFormatter):
    pass


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """transformers' sandbox, with every size-multiplying operation checked against a :class:`_Budget`."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(
            trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols, _GenerationTag]
        )
        self.budget = _Budget()
        self.filters = {name: self._bounded_filter(name, func) for name, func in self.filters.items()}
        self.filters["tojson"] = self._tojson
        self.globals["raise_exception"] = _raise_exception
        self.globals["strftime_now"] = self._strftime_now

    # --- loops and concatenation (compiled in by _BoundedCodeGenerator)

    def bounded_loop(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """Iterate ``iterable``, spending one loop iteration of the budget per item."""
        for item in iterable:
            self.budget.iterations(1)
            yield item

    def bounded_concat(self, context: jinja2.runtime.Context, values: Sequence[Any]) -> str:
        """``a ~ b``: jinja2's ``str_join`` (``markup_join`` under autoescape), checked before joining."""
        texts = [str(value) for value in values]
        self.budget.size(sum(map(len, texts)), "a concatenation of length")
        if context.eval_ctx.autoescape:
            return jinja2.runtime.markup_join(values)
        return "".join(texts)

    # --- operators, calls and filters

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        self.budget.tick()
        if operator == "*":
            sequence, count = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(sequence, _SIZED) and isinstance(count, int):
                self.budget.size(len(sequence) * max(count, 0), "a repetition of length")
            elif isinstance(left, int) and isinstance(right, int):
                self.budget.digits(left.bit_length() + right.bit_length())
        elif operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1:
            self.budget.digits(math.ceil(max(right, 0) * math.log2(abs(left))))
        elif operator == "+" and isinstance(left, _SIZED) and isinstance(right, _SIZED):
            self.budget.size(len(left) + len(right), "a concatenation of length")
        elif operator == "%" and isinstance(left, (str, bytes)):
            self._check_percent_format(left, right)
        return self.budget.result(super().call_binop(context, operator, left, right))

    def _check_percent_format(self, template: str | bytes, arguments: Any) -> None:
        text = template.decode("latin-1") if isinstance(template, bytes) else template
        numbers = [int(x) for x in arguments if isinstance(x, int)] if isinstance(arguments, tuple) else []
        total = len(text)
        for width, precision in _PERCENT_SPEC.findall(text):
            for part in (width, precision):
                if part == "*":
                    total += max((abs(n) for n in numbers), default=0)
                elif part:
                    total += int(part)
        self.budget.size(total, "a %-formatted string of length")

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        __self.budget.tick()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, (str, bytes)):
            __self._check_str_method(owner, getattr(__obj, "__name__", ""), args, kwargs)
        elif __obj is generate_lorem_ipsum:
            bound = inspect.signature(generate_lorem_ipsum).bind(*args, **kwargs)
            bound.apply_defaults()
            words = bound.arguments["n"] * max(bound.arguments["min"], bound.arguments["max"])
            __self.budget.size(words * 16, "lorem ipsum of length")
        return __self.budget.result(super().call(__context, __obj, *args, **kwargs))

    def _check_str_method(self, text: str | bytes, name: str, args: tuple, kwargs: dict) -> None:
        if name in ("center", "ljust", "rjust", "zfill") and args and isinstance(args[0], int):
            self.budget.size(args[0], f"str.{name} to a width")
        elif name == "expandtabs":
            tabsize = args[0] if args else kwargs.get("tabsize", 8)
            if isinstance(tabsize, int):
                self.budget.size(
                    len(text) + text.count("\t" if isinstance(text, str) else b"\t") * tabsize,
                    "str.expandtabs to a length",
                )
        elif name == "join" and args:
            items = args[0]
            if isinstance(items, _SIZED):
                lengths = sum(len(item) for item in items if isinstance(item, (str, bytes)))
                self.budget.size(lengths + len(text) * len(items), "str.join of length")
        elif name == "replace" and len(args) >= 2:
            old, new = args[0], args[1]
            count = args[2] if len(args) > 2 else kwargs.get("count", -1)
            if isinstance(old, type(text)) and isinstance(new, type(text)):
                self.budget.size(_replaced_length(text, old, new, count), "str.replace to a length")
        elif name == "translate" and args and isinstance(args[0], Mapping):
            longest = max((len(v) for v in args[0].values() if isinstance(v, (str, bytes))), default=1)
            self.budget.size(len(text) * longest, "str.translate to a length")

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` / ``format_map`` through a formatter that bounds widths (see jinja2's)."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        template: str = value.__self__
        formatter = (
            _BoundedEscapeFormatter(self, escape=template.escape)
            if isinstance(template, Markup)
            else _BoundedFormatter(self)
        )
        is_format_map = value.__name__ == "format_map"

        def bounded_format(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one positional argument")
                args, kwargs = (), args[0]
            return type(template)(formatter.vformat(template, args, kwargs))

        return functools.update_wrapper(bounded_format, value)

    def _bounded_filter(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        check = _FILTER_CHECKS.get(name)
        signature = inspect.signature(func) if check is not None else None
        # jinja2's async variants take the eval context first without declaring it in their signature
        hidden = int(
            getattr(func, "jinja_pass_arg", None) is not None
            and getattr(inspect.unwrap(func), "jinja_pass_arg", None) is None
        )

        def bounded(*args: Any, **kwargs: Any) -> Any:
            self.budget.tick()
            if signature is not None and check is not None:
                bound = signature.bind(*args[hidden:], **kwargs)
                bound.apply_defaults()
                check(self, bound.arguments)
                args, kwargs = (*args[:hidden], *bound.args), bound.kwargs
            return self.budget.result(func(*args, **kwargs))

        return functools.update_wrapper(bounded, func)

    # --- transformers' extra filter and globals

    def _tojson(
        self,
        value: Any,
        ensure_ascii: bool = False,
        indent: int | str | None = None,
        separators: tuple[str, str] | None = None,
        sort_keys: bool = False,
    ) -> str:
        """transformers' ``tojson`` (``json.dumps`` without HTML escaping), streamed against the budget."""
        encoder = json.JSONEncoder(
            ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
        )
        if indent is not None:
            # one chunk of the output is a newline and the indent once per level
            indent_chars = len(indent) if isinstance(indent, str) else max(int(indent), 0)
            self.budget.size(indent_chars * limits._depth(value), "a JSON indentation of length")
        chunks, total = [], 0
        for chunk in encoder.iterencode(value):
            total += len(chunk)
            self.budget.size(total, "JSON of length")
            chunks.append(chunk)
        return "".join(chunks)

    def _strftime_now(self, format: str) -> str:
        widths = [int(width) for width in _STRFTIME_WIDTH.findall(str(format))]
        self.budget.size(len(str(format)) * 32 + sum(widths), "a strftime result of length")
        return datetime.datetime.now().strftime(format)


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _replaced_length(text: str | bytes, old: str | bytes, new: str | bytes, count: Any) -> int:
    occurrences = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        occurrences = min(occurrences, count)
    return len(text) + occurrences * (len(new) - len(old))


def _check_join(sandbox: _BoundedSandbox, arguments: dict[str, Any]) -> None:
    items = list(arguments["value"])
    arguments["value"] = items
    separator = str(arguments["d"])
    attribute = arguments["attribute"]
    if attribute is not None:
        items = list(map(make_attrgetter(sandbox, attribute), items))
    total = len(separator) * len(items)
    for item in items:
        total += len(str(item))
        sandbox.budget.size(total, "a join of length")


def _check_replace(sandbox: _BoundedSandbox, arguments: dict[str, Any]) -> None:
    text, old, new = str(arguments["s"]), str(arguments["old"]), str(arguments["new"])
    sandbox.budget.size(_replaced_length(text, old, new, arguments["count"]), "a replace result of length")


def _check_indent(sandbox: _BoundedSandbox, arguments: dict[str, Any]) -> None:
    width, text = arguments["width"], str(arguments["s"])
    width_chars = len(width) if isinstance(width, str) else int(width)
    sandbox.budget.size(len(text) + (text.count("\n") + 1) * width_chars, "an indented text of length")


def _check_wordwrap(sandbox: _BoundedSandbox, arguments: dict[str, Any]) -> None:
    text, wrap = str(arguments["s"]), arguments["wrapstring"]
    wrap_chars = 1 if wrap is None else len(str(wrap))
    sandbox.budget.size(len(text) + (len(text) + 1) * wrap_chars, "a wrapped text of length")


def _check_sum(sandbox: _BoundedSandbox, arguments: dict[str, Any]) -> None:
    items = list(arguments["iterable"])
    arguments["iterable"] = items
    if arguments["attribute"] is None:
        start = arguments["start"]
        total = len(start) if isinstance(start, _SIZED) else 0
        sandbox.budget.size(
            total + sum(len(item) for item in items if isinstance(item, _SIZED)), "a sum of length"
        )


_FILTER_CHECKS: dict[str, Callable[[_BoundedSandbox, dict[str, Any]], None]] = {
    "center": lambda sandbox, a: sandbox.budget.size(a["width"], "a centred text of width"),
    "format": lambda sandbox, a: sandbox._check_percent_format(
        str(a["value"]), a["args"] or tuple(a["kwargs"])
    ),
    "indent": _check_indent,
    "join": _check_join,
    "replace": _check_replace,
    "wordwrap": _check_wordwrap,
    "sum": _check_sum,
    "slice": lambda sandbox, a: sandbox.budget.iterations(max(int(a["slices"]), 0)),
    "batch": lambda sandbox, a: (
        a["fill_with"] is None or sandbox.budget.size(a["linecount"], "a batch of length")
    ),
}


def _plain(value: Any) -> Any:
    """``value`` rebuilt from plain JSON types (what the template sees), as transformers does."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    for kind in (str, bool, int, float):
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, Mapping):
        return {_plain(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_plain(item) for item in value)
    return f"<{type(value).__name__}>"


def _messages(conversation: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Messages as the template sees them: None values dropped, reasoning fields aliased."""
    messages = []
    for message in conversation:
        if not isinstance(message, Mapping):
            raise TokenizerError(f"chat messages must be dicts, got {message!r}")
        message = {key: value for key, value in _plain(message).items() if value is not None}
        reasoning = next((message[key] for key in _REASONING_FIELDS if message.get(key) is not None), None)
        if reasoning is not None:
            message = {"thinking": reasoning, **message, "reasoning_content": reasoning}
        messages.append(message)
    return messages


def render_chat_template(
    template: str,
    conversations: list[Sequence[Mapping[str, Any]]],
    tools: list[dict[str, Any]] | None,
    documents: list[dict[str, Any]] | None,
    add_generation_prompt: bool,
    continue_final_message: bool,
    variables: dict[str, Any],
) -> list[str]:
    """Render each conversation as transformers' ``render_jinja_template`` does, within the limits.

    Everything the template sees is rebuilt from plain JSON types; keys whose value is None
    are dropped from messages; reasoning fields are aliased (``thinking`` / ``reasoning_content``).
    """
    budget_chars = limits.current().chat_template_output_chars
    if len(template) > budget_chars:
        raise _limit_error(
            "chat_template_output_chars", f"the chat template is {len(template)} characters long"
        )
    sandbox = _BoundedSandbox()
    with _template_errors():
        compiled = sandbox.from_string(template)
    rendered = []
    for conversation in conversations:
        sandbox.budget = _Budget()
        with _template_errors():
            messages = _messages(conversation)
            final = messages[-1].get("content") if messages else None
            if continue_final_message:
                if not isinstance(final, str):
                    raise TokenizerError("continue_final_message needs a final message with text content")
                messages[-1]["content"] = final + _CONTINUE_TAG
            chunks, total = [], 0
            for chunk in compiled.generate(
                messages=messages,
                tools=_plain(tools),
                documents=_plain(documents),
                add_generation_prompt=add_generation_prompt,
                **_plain(variables),
            ):
                total += len(chunk)
                sandbox.budget.size(total, "an output of length")
                sandbox.budget.tick()
                chunks.append(chunk)
            text = "".join(chunks)
        if continue_final_message:
            if final.strip() not in text or _CONTINUE_TAG.strip() not in text:
                raise TokenizerError("continue_final_message: the template dropped part of the final message")
            location = text.rindex(_CONTINUE_TAG.strip())
            end = location + len(_CONTINUE_TAG)
            text = text[:location] if text[location:end] == _CONTINUE_TAG else text[:location].rstrip()
        rendered.append(text)
    return rendered


@contextlib.contextmanager
def _template_errors() -> Iterator[None]:
    """Turn whatever compiling or rendering a template raises into :class:`ChatTemplateError`."""
    try:
        yield
    except TokenizerError:
        raise
    except jinja2.exceptions.TemplateSyntaxError as error:
        raise ChatTemplateError(
            f"the chat template does not compile: {error.message} (line {error.lineno})"
        ) from error
    except jinja2.exceptions.TemplateError as error:
        raise ChatTemplateError(f"the chat template failed: {error}") from error
    except RecursionError as error:
        raise ChatTemplateError("the chat template recursed too deeply (a macro calling itself?)") from error
    except MemoryError as error:
        raise ChatTemplateError("the chat template ran out of memory") from error
    except Exception as error:  # a filter, test or operator failing on the template's values
        raise ChatTemplateError(f"the chat template failed: {type(error).__name__}: {error}") from error
