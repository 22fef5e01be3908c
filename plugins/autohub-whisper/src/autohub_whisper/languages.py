"""Whisper's languages and tasks: the codes, names and aliases transformers' tokenizer and generate() accept."""

from __future__ import annotations

from autohub_core.errors import GenerationError, TokenizerError

__all__ = [
    "LANGUAGES",
    "TASKS",
    "TO_LANGUAGE_CODE",
    "UnknownLanguageError",
    "language_code",
    "language_token",
]

#: Language code -> name, in the order of the language tokens (``<|en|>`` follows ``<|startoftranscript|>``).
LANGUAGES: dict[str, str] = {
    "en": "english",
    "zh": "chinese",
    "de": "german",
    "es": "spanish",
    "ru": "russian",
    "ko": "korean",
    "fr": "french",
    "ja": "japanese",
    "pt": "portuguese",
    "tr": "turkish",
    "pl": "polish",
    "ca": "catalan",
    "nl": "dutch",
    "ar": "arabic",
    "sv": "swedish",
    "it": "italian",
    "id": "indonesian",
    "hi": "hindi",
    "fi": "finnish",
    "vi": "vietnamese",
    "he": "hebrew",
    "uk": "ukrainian",
    "el": "greek",
    "ms": "malay",
    "cs": "czech",
    "ro": "romanian",
    "da": "danish",
    "hu": "hungarian",
    "ta": "tamil",
    "no": "norwegian",
    "th": "thai",
    "ur": "urdu",
    "hr": "croatian",
    "bg": "bulgarian",
    "lt": "lithuanian",
    "la": "latin",
    "mi": "maori",
    "ml": "malayalam",
    "cy": "welsh",
    "sk": "slovak",
    "te": "telugu",
    "fa": "persian",
    "lv": "latvian",
    "bn": "bengali",
    "sr": "serbian",
    "az": "azerbaijani",
    "sl": "slovenian",
    "kn": "kannada",
    "et": "estonian",
    "mk": "macedonian",
    "br": "breton",
    "eu": "basque",
    "is": "icelandic",
    "hy": "armenian",
    "ne": "nepali",
    "mn": "mongolian",
    "bs": "bosnian",
    "kk": "kazakh",
    "sq": "albanian",
    "sw": "swahili",
    "gl": "galician",
    "mr": "marathi",
    "pa": "punjabi",
    "si": "sinhala",
    "km": "khmer",
    "sn": "shona",
    "yo": "yoruba",
    "so": "somali",
    "af": "afrikaans",
    "oc": "occitan",
    "ka": "georgian",
    "be": "belarusian",
    "tg": "tajik",
    "sd": "sindhi",
    "gu": "gujarati",
    "am": "amharic",
    "yi": "yiddish",
    "lo": "lao",
    "uz": "uzbek",
    "fo": "faroese",
    "ht": "haitian creole",
    "ps": "pashto",
    "tk": "turkmen",
    "nn": "nynorsk",
    "mt": "maltese",
    "sa": "sanskrit",
    "lb": "luxembourgish",
    "my": "myanmar",
    "bo": "tibetan",
    "tl": "tagalog",
    "mg": "malagasy",
    "as": "assamese",
    "tt": "tatar",
    "haw": "hawaiian",
    "ln": "lingala",
    "ha": "hausa",
    "ba": "bashkir",
    "jw": "javanese",
    "su": "sundanese",
    "yue": "cantonese",
}

#: Language name (and a few aliases) -> code.
TO_LANGUAGE_CODE: dict[str, str] = {
    **{language: code for code, language in LANGUAGES.items()},
    "burmese": "my",
    "valencian": "ca",
    "flemish": "nl",
    "haitian": "ht",
    "letzeburgesch": "lb",
    "pushto": "ps",
    "panjabi": "pa",
    "moldavian": "ro",
    "moldovan": "ro",
    "sinhalese": "si",
    "castilian": "es",
    "mandarin": "zh",
}

#: The tasks of the prompt (``<|translate|>``, ``<|transcribe|>``).
TASKS: tuple[str, ...] = ("translate", "transcribe")


class UnknownLanguageError(TokenizerError, GenerationError):
    """A language that is neither a Whisper language code, name, alias nor ``<|code|>`` token
    (raised by the tokenizer's prompt options and by ``generate(language=)``; a ValueError)."""


def language_code(language: str) -> str:
    """The code of a language given as a code (``"en"``), a name or alias (``"English"``) or a
    token (``"<|en|>"``); anything else raises :class:`UnknownLanguageError` with transformers' wording."""
    if not isinstance(language, str):
        raise UnknownLanguageError(f"language must be a string such as 'en' or 'english', got {language!r}")
    lowered = language.lower()
    if lowered.startswith("<|") and lowered.endswith("|>") and lowered[2:-2] in LANGUAGES:
        return lowered[2:-2]
    if lowered in TO_LANGUAGE_CODE:
        return TO_LANGUAGE_CODE[lowered]
    if lowered in LANGUAGES:
        return lowered
    is_language_code = len(lowered) == 2
    raise UnknownLanguageError(
        f"Unsupported language: {lowered}. Language should be one of:"
        f" {list(TO_LANGUAGE_CODE.values()) if is_language_code else list(TO_LANGUAGE_CODE.keys())}."
    )


def language_token(language: str) -> str:
    """``"<|code|>"`` for a language code, name, alias or token (see :func:`language_code`)."""
    return f"<|{language_code(language)}|>"
