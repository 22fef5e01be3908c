"""The typed errors autohub raises. Catch :class:`AutohubError` to catch them all.

Each subclass also derives from the builtin exception transformers raises in the same
situation (``OSError`` for missing files, ``ValueError`` for bad values), so code written
against transformers keeps working.
"""

from __future__ import annotations


class AutohubError(Exception):
    """Base class of every error autohub raises on purpose."""


class CheckpointNotFoundError(AutohubError, OSError):
    """A file of a checkpoint (config.json, weights, tokenizer files) cannot be found."""


class ConfigError(AutohubError, ValueError):
    """A configuration file or value is invalid (bad JSON, wrong type, inconsistent keys)."""


class UnsupportedConfigError(ConfigError):
    """A configuration option has a value the family's code does not implement."""


class UnknownModelTypeError(AutohubError, ValueError):
    """No installed plugin (and no runtime registration) provides this model_type or task."""


class WeightsError(AutohubError, OSError):
    """A weights file is corrupt, truncated, or does not fit the model."""


class TokenizerError(AutohubError, ValueError):
    """Tokenizer files are missing, invalid, or a call has invalid arguments."""


class RegistrationError(AutohubError, ValueError):
    """A runtime ``register(...)`` call is inconsistent (wrong model_type, wrong config_class)."""


class PluginError(AutohubError, ImportError):
    """A plugin failed to import, or a class it declared cannot be resolved."""


class UnsupportedFeatureError(AutohubError, NotImplementedError):
    """A transformers feature autohub deliberately does not offer (TensorFlow weights, remote code)."""


class MissingExtraError(AutohubError, ImportError):
    """An optional dependency is not installed; the message names the pip extra that installs it."""


class PlacementError(AutohubError, ValueError):
    """A ``device_map`` / ``max_memory`` / offload / tensor-parallel request cannot be carried out
    (unknown module, memory too small for one unit, folder not writable, no distributed launch)."""


class GenerationError(AutohubError, ValueError):
    """``generate()`` was called with arguments that cannot work for this model."""


class LabelError(AutohubError, ValueError):
    """Labels given to a head's ``forward`` do not fit it (shape, dtype or value out of range)."""


class LimitExceededError(AutohubError, ValueError):
    """An input asks for more than a cap of :mod:`autohub_core.limits` allows (a file's size, a
    text's length, ``num_labels``, ``max_new_tokens``, a chat template's time or output)."""


class ChatTemplateError(TokenizerError):
    """A chat template does not compile, fails while rendering, or exceeds its time, loop or
    output limits."""


class CheckpointWriteError(AutohubError, OSError):
    """``save_pretrained`` could not complete (disk full, permission, a failing write); the
    checkpoint previously in the folder is left exactly as it was."""


class ModelInputError(AutohubError, ValueError):
    """A model's ``forward`` got inputs it cannot run on (neither or both of ``input_ids`` and
    ``inputs_embeds``, or a sequence with no positions)."""


class ProcessorError(AutohubError, ValueError):
    """An image, audio array or preprocessor file cannot be processed: names the file, key or
    argument at fault and what to do."""
