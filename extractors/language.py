"""The language of an article, detected offline from its text (py3langid's bundled model).

The text decides, not the page's `lang` attribute: templates declare "en" on pages in every
language. The declared tag is only the fallback for texts too short to judge.
"""

from __future__ import annotations

import re

import py3langid

# Fewer words than this and the detector guesses; the page's own tag is then the better word.
MIN_WORDS = 15
# The start of a body says enough, and the cost grows with the length.
SAMPLE_CHARS = 600

_WORD = re.compile(r"\w+")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")


def detect_language(text: str, declared: str | None = None) -> str | None:
    """An ISO 639-1 code ("en", "ru", …) for the text, else the declared one."""
    sample = _LINK_TARGET.sub("]", text[:SAMPLE_CHARS])  # URLs would read as English
    if len(_WORD.findall(sample)) < MIN_WORDS:
        return declared
    language, _score = py3langid.classify(sample)  # the model loads on first use
    return language or declared
