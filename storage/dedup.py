"""Text fingerprints for deduplication: normalised text, its hash, MinHash and LSH band keys.

Plain functions, no database. The one text normalisation of the project lives here
(`normalise_text`); everything that compares texts calls it.

Near copies: MinHash over word 5-shingles of the normalised body, 128 permutations
(datasketch, "affine32" scheme, fixed seed, so signatures are stable across processes and
releases). LSH splits the signature into `BANDS` bands of `ROWS` rows; two texts of Jaccard
similarity s share at least one band key with probability 1 - (1 - s**ROWS)**BANDS. With
42 bands of 3 rows (126 of the 128 values) that S-curve crosses 1/2 at s ≈ 0.25 and gives
≈ 0.94 at the threshold 0.4 and ≈ 0.996 at s = 0.5, while an unrelated text (s ≈ 0.01) is a
candidate with probability ≈ 4e-5. (32 × 4, threshold ≈ 0.42, gives ≈ 0.57 at s = 0.4 and
lost 4 points of recall on the bench.) Candidates are then verified on the full signature
against `NEAR_COPY_THRESHOLD`.
Texts shorter than `MIN_NEAR_COPY_WORDS` words are never near-copy candidates: they share
too few shingles for the estimate to mean anything (they still dedup by exact text hash).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
from datasketch import MinHash

SHINGLE_WORDS = 5
NUM_PERM = 128
MINHASH_SEED = 20_240_601
BANDS = 42
ROWS = 3
# Estimated Jaccard of 5-shingles at or above which a text is a near copy of an earlier one.
# Tuned on the bench stream (bench/dedup/news_stream.jsonl, fed in arrival order): pairwise
# P/R/F1 0.999/0.62/0.76 at 0.5, 0.995/0.68/0.81 at 0.4, 0.98/0.75/0.85 at 0.3. Below 0.4 the
# extra links include same-story rewrites that are not copies. A false link hides an article
# from every digest; a missed copy is at worst alerted twice (and story grouping, dedup level
# 4, is meant to fold it), so precision wins here.
NEAR_COPY_THRESHOLD = 0.4
MIN_NEAR_COPY_WORDS = 30

_SIGNATURE_DTYPE = np.dtype("<u4")
_SIGNATURE_BYTES = NUM_PERM * _SIGNATURE_DTYPE.itemsize
_KEY_MASK = (1 << 63) - 1

_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)\s]*(?:\s+\"[^\"]*\")?\)")
_LIST_MARKER = re.compile(r"^[ \t]*(?:[-*+•·]|\d{1,3}[.)])[ \t]+", re.MULTILINE)
_NON_WORD = re.compile(r"[\W_]+")

# Permutations are derived from the seed; build them once and copy the template per text.
_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, scheme="affine32")


def normalise_text(body: str) -> str:
    """Lower-case NFKC text with Markdown link targets and list markers removed, punctuation
    turned into spaces and whitespace collapsed: the form every text comparison uses."""
    text = unicodedata.normalize("NFKC", body)
    text = _MARKDOWN_LINK.sub(r" \1 ", text)
    text = _LIST_MARKER.sub(" ", text)
    text = text.lower()
    return _NON_WORD.sub(" ", text).strip()


def text_hash(body: str) -> str:
    """SHA-256 (hex) of the normalised text: the same-text dedup key."""
    return _sha256(normalise_text(body))


def shingles(text: str, k: int = SHINGLE_WORDS) -> set[str]:
    """Word k-shingles of the normalised text (a shorter text is one shingle of all its words)."""
    return _shingles_of(normalise_text(text).split(), k)


def minhash_signature(body: str) -> bytes:
    """MinHash of the body's word shingles: NUM_PERM little-endian uint32 values."""
    return _signature_of(shingles(body))


def band_keys(signature: bytes) -> list[tuple[int, int]]:
    """(band, key) pairs of the LSH index: key = a non-negative 63-bit hash of the band's rows,
    so it fits a signed BIGINT."""
    if len(signature) != _SIGNATURE_BYTES:
        raise ValueError(f"a signature is {_SIGNATURE_BYTES} bytes, got {len(signature)}")
    width = ROWS * _SIGNATURE_DTYPE.itemsize
    keys = []
    for band in range(BANDS):
        chunk = signature[band * width : (band + 1) * width]
        digest = hashlib.blake2b(chunk, digest_size=8).digest()
        keys.append((band, int.from_bytes(digest, "big") & _KEY_MASK))
    return keys


def estimated_jaccard(sig_a: bytes, sig_b: bytes) -> float:
    """Share of equal MinHash values: an unbiased estimate of the shingle sets' Jaccard."""
    a = np.frombuffer(sig_a, dtype=_SIGNATURE_DTYPE)
    b = np.frombuffer(sig_b, dtype=_SIGNATURE_DTYPE)
    if a.shape != b.shape:
        raise ValueError("signatures of different lengths")
    return float(np.count_nonzero(a == b)) / len(a)


@dataclass(frozen=True)
class Fingerprint:
    """Everything dedup needs from one body, computed once."""

    text_hash: str | None  # None for a text with no words: such texts never dedup by text
    signature: bytes
    word_count: int
    band_keys: tuple[tuple[int, int], ...]  # empty when too short to be a near-copy candidate

    @property
    def near_copy_candidate(self) -> bool:
        return bool(self.band_keys)


def fingerprint(body: str) -> Fingerprint:
    normalised = normalise_text(body)
    words = normalised.split()
    signature = _signature_of(_shingles_of(words, SHINGLE_WORDS))
    eligible = len(words) >= MIN_NEAR_COPY_WORDS
    return Fingerprint(
        text_hash=_sha256(normalised) if words else None,
        signature=signature,
        word_count=len(words),
        band_keys=tuple(band_keys(signature)) if eligible else (),
    )


def _shingles_of(words: list[str], k: int) -> set[str]:
    if len(words) <= k:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}


def _signature_of(items: set[str]) -> bytes:
    minhash = _TEMPLATE.copy()
    if items:
        minhash.update_batch([s.encode("utf-8") for s in items])
    return minhash.hashvalues.astype(_SIGNATURE_DTYPE).tobytes()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
