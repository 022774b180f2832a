"""Text fingerprints for deduplication: normalised text, its hash, MinHash, the anchors of the
candidate index, and the overlap measures that decide whether one text is a near copy of another.

Plain functions, no database. The one text normalisation of the project lives here
(`normalise_text`, `STOP_WORDS`); everything that compares texts calls it.

Near copies (syndicated or lightly edited copies of one text) are found in two steps:

1. Candidates. Only the *content* of a body is compared: header and footer lines that outlets
   add around a wire text (share bars, "By X Staff", "Site | Updated 9:41 a.m.", copyright and
   newsletter lines, "Related: ...") are peeled off its edges and a wire dateline ("(AP) -")
   is cut from its first line (`content_words`). The candidates of a text are the stored
   texts that share its *anchors* (`anchors`): the word 3-shingles whose (remixed) hash is 0 modulo
   ANCHOR_RATE, anywhere in the content, and modulo LEAD_ANCHOR_RATE, in its first
   LEAD_ANCHOR_WORDS words. A sample chosen by the shingle itself, not by the text it is in,
   is the same in every text that holds the shingle, so the anchors two texts share are a
   sample of the shingles they share: a trimmed copy holding a fifth of its original shares a
   fifth of the original's anchors and all of its lead anchors; a copy with a rewritten lead
   meets its original in the body. (MinHash bands, the classic index, favour texts of high
   *Jaccard*: a trimmed copy has a low one, so they needed 84 bands of 2 rows per text for
   this; the anchors need ~17 per text of ~300 words, and each is an index entry to write and
   to probe.) Shingles of stop words only ("one of the", "as well as") are never
   anchors: every text has them. Ingest keeps the MAX_CANDIDATES articles sharing the
   most anchors (`storage.ingest`), and `worth_verifying` drops those that share few anchors
   and few MinHash values (a write-up of the same event quoting one sentence, or a common
   phrase), before their texts are read. The index keeps each article's number of anchors
   beside its entries, so that a candidate sharing a small share of the anchors of the text
   with fewer is dropped without reading its signature.
2. Verification, on the exact shingle sets of the two contents (`overlap`), by `is_near_copy`:
   the two share at least `NEAR_COPY_THRESHOLD` Jaccard, or the smaller is at least
   `CONTAINMENT_THRESHOLD` contained in the larger *and* one lead is at least
   `LEAD_CONTAINMENT_THRESHOLD` contained in the other text, or (copies with OCR slips and
   typos) the new text, the smaller, is contained in the other on character 8-grams with its
   lead (`CHAR_*`). The lead condition is what keeps two outlets' own write-ups of one event
   apart: they share quotes and facts (containment around 0.5-0.7) but seldom the same
   opening paragraph. Candidates may be copies; the link goes to the group's original.

Shingles of 3 words rather than 5: a word edit or an OCR slip breaks 3 shingles instead of 5,
and the real syndicated copies on the bench share only ~47% of their 5-shingles. Texts whose
content is shorter than `MIN_NEAR_COPY_WORDS` words are never near-copy candidates (they still
dedup by exact text hash). Tuned on bench/dedup (see bench/dedup.py).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
from datasketch import MinHash

SHINGLE_WORDS = 3
LEAD_WORDS = 80
NUM_PERM = 128
MINHASH_SEED = 20_240_601
# Anchors (see the module docstring). On the bench stream, fed in arrival order, every near copy
# the 84 MinHash bands put in reach of its group (572 of 573) shares an anchor with it, for ~24
# anchors per text; the real syndicated copies are the ones on the edge (they share ~half their
# shingles and seldom the lead): at 1/48 one of them shares none and near-copy recall falls
# from 0.973 to 0.902. At 1/32 (16.8 anchors per text, 24.4 at 1/16) the 858 gold pairs of the
# development half that share at most one anchor are the same 3 as at 1/16 (at most two: 19
# instead of 10) and the bench scores the same; at 1M articles each anchor is a random write at
# ingest and a bucket read: 1/32 ingested 13-15% faster than 1/16. LEAD_ANCHOR_RATE divides
# ANCHOR_RATE: in the lead the anchors of the content are lead anchors too.
ANCHOR_RATE = 32
LEAD_ANCHOR_RATE = 4
LEAD_ANCHOR_WORDS = 40
# Verification thresholds (exact sets of content 3-shingles). On the bench stream, fed in
# arrival order: containment 0.7 with lead 0.6 gives pairwise F1 0.975 with 0.4% same-story
# false merges; containment 0.65 gains 0.4 point of recall for 1.5% false merges, and 0.75
# loses 4 points of recall. Jaccard 0.5 alone adds whole-text copies whose lead was rewritten.
NEAR_COPY_THRESHOLD = 0.5
CONTAINMENT_THRESHOLD = 0.7
LEAD_CONTAINMENT_THRESHOLD = 0.6
# Character 8-grams, for copies with OCR slips or typos (a wrong character breaks 3 word
# shingles but only the 8-grams around it): the new text, the smaller one, has at least 0.8
# of its 8-grams in the other and one lead 0.7. Adds 0.8 point of F1 on the bench and no false
# merge; without "the smaller one" it also links a long write-up to a trimmed copy of another
# outlet's story whose lead it quotes (1.1% same-story false merges).
CHAR_GRAM = 8
CHAR_CONTAINMENT_THRESHOLD = 0.8
CHAR_LEAD_CONTAINMENT_THRESHOLD = 0.7
# Character grams are measured only from this word containment up: on the bench's 12,500 pairs
# of one story no pair below 0.6 reaches 0.8 on characters (typos break ~3 word shingles but
# only the ~12 character grams around them), and 99% of pairs are below 0.4.
CHAR_MIN_WORD_CONTAINMENT = 0.4
MIN_NEAR_COPY_WORDS = 15
# Candidates verified on their texts (`worth_verifying`). On the bench stream (12,700 candidate
# pairs, 1,130 of them in one gold group) one pair of a group shares fewer than 4 anchors and
# has an estimated Jaccard under 0.08 (its copy is linked through another member); 882 pairs
# that are no copies pass (11,565 share an anchor).
VERIFY_MIN_ANCHORS = 4
VERIFY_MIN_JACCARD = 0.08
# ... and below VERIFY_MIN_ANCHORS a candidate must share this share of the anchors of the text
# with fewer (`anchor_share`: the anchors are a sample of the shingles, so this estimates the
# smaller's containment, which verification needs at 0.4 at least) before its signature is read.
# Most candidates at scale share one anchor of ~17-22 through a common phrase (0.05-0.06): at 100k
# synthetic articles, 40 signature reads a lookup become 10. The gold pairs of the bench stream
# share 0.11 and more; bench scores are the same from 0.05 to 0.1 (0.15 loses 2 pairs).
VERIFY_MIN_SHARE = 0.08

_SIGNATURE_DTYPE = np.dtype("<u4")
_WINDOW_BASE = np.uint64(1099511628211)  # the 64-bit FNV prime: a good multiplier
_SIGNATURE_BYTES = NUM_PERM * _SIGNATURE_DTYPE.itemsize
# Anchors are chosen on a remix of the shingle hash (its low bits are the last word's hash times
# a power of the window base, its high bits depend on every word), the golden-ratio multiplier.
_ANCHOR_MIX = np.uint64(0x9E3779B97F4A7C15)
_ANCHOR_BITS = np.uint64(40)

# Stop words: never anchors alone (here), never story terms (storage.stories).
_STOP_WORDS = """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own said same says she should so some such than that the
    their theirs them themselves then there these they this those through to too under until
    up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves one two new also told year years according people last first
    would could may might must shall since still however though even like well many much get
    got make made say us"""
STOP_WORDS = frozenset(_STOP_WORDS.split())

_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)\s]*(?:\s+\"[^\"]*\")?\)")
_LIST_MARKER = re.compile(r"^[ \t]*(?:[-*+•·]|\d{1,3}[.)])[ \t]+", re.MULTILINE)
# Neither a word character nor whitespace: punctuation and symbols (whitespace is collapsed by
# str.split, which is much faster than a regex replacing every space).
_PUNCTUATION = re.compile(r"[^\w\s]|_")

# Lines an outlet puts around a syndicated text; only looked for at its edges.
_EDGE_LINES = 4
_BOILERPLATE = re.compile(
    r"^(?:advertisement|advertising|sponsored|share this\b|share on\b|posted in\b"
    r"|filed under\b|tags?:|related:|read more\b|more from\b|sign up\b|subscribe\b"
    r"|follow us\b|copyright\s+(?:©|\(c\)|\d{4})|©|\(c\) \d{4}|have a news tip"
    r"|comments are closed|click here|(?:last )?updated \d|published \d)"
    r"|all rights reserved",
    re.IGNORECASE,
)
# "By The Morning Post Staff", "By Jane Doe and John Roe": a short line, no full stop.
_BYLINE = re.compile(r"^by\s+[\w'&-]+(?:\s+[\w.'&-]+){0,6}$", re.IGNORECASE)
_UPDATED_BAR = re.compile(r"^[^.!?]{0,60}\|\s*(?:updated|published|posted)\b", re.IGNORECASE)
_AGENCIES = r"AP|AFP|Reuters|UPI|dpa|Xinhua|PA|CNN|Bloomberg|IANS|PTI|ANSA|EFE|Kyodo|Yonhap"
_DATELINE = re.compile(
    rf"^(?:[A-Z][\w .,'/-]{{0,60}}?\s*)?\((?:{_AGENCIES})\)\s*[-–—:]+\s*", re.IGNORECASE
)
_WIRE_SOURCE = re.compile(
    r"\b(?:ap|afp|reuters|upi|dpa|xinhua|associated press|agence france[- ]presse|bloomberg"
    r"|press association|pa media|ians|pti|ansa|efe|kyodo|yonhap)\b",
    re.IGNORECASE,
)

# The MinHash is datasketch's ("affine32" scheme, its permutations from the seed), computed here
# on one matrix: datasketch's update_batch takes a Python list (a third of the fingerprint's
# time). tests/storage/test_dedup.py checks both agree.
_PERMUTATIONS = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, scheme="affine32").permutations
_FMIX32 = (
    np.uint32(16),
    np.uint32(0x85EBCA6B),
    np.uint32(13),
    np.uint32(0xC2B2AE35),
    np.uint32(16),
)


# Names recur from article to article, and a new body is normalised for its text hash, its
# story terms and its comparisons: each string once.
@lru_cache(maxsize=4096)
def normalise_text(body: str) -> str:
    """Lower-case NFKC text with Markdown link targets and list markers removed, punctuation
    turned into spaces and whitespace collapsed: the form every text comparison uses."""
    text = unicodedata.normalize("NFKC", body)
    text = _MARKDOWN_LINK.sub(r" \1 ", text)
    text = _LIST_MARKER.sub(" ", text)
    text = text.lower()
    return " ".join(_PUNCTUATION.sub(" ", text).split())


def text_hash(body: str) -> str:
    """SHA-256 (hex) of the normalised text: the same-text dedup key."""
    return _sha256(normalise_text(body))


def content_words(body: str) -> list[str]:
    """The normalised words of the body without the boilerplate lines at its edges (share bars,
    bylines, "Updated" bars, copyright and newsletter lines) and without a wire dateline."""
    return list(_content_words(body))


@lru_cache(maxsize=256)  # a new text is fingerprinted, then compared with its candidates
def _content_words(body: str) -> tuple[str, ...]:
    raw = body.splitlines()
    lines = [line.strip() for line in raw if line.strip()]
    start = 0
    while start < min(_EDGE_LINES, len(lines)) and _is_boilerplate(lines[start]):
        start += 1
    end = len(lines)
    while end > max(start, len(lines) - _EDGE_LINES) and _is_boilerplate(lines[end - 1]):
        end -= 1
    kept = lines[start:end]
    if kept:
        first = _DATELINE.sub("", kept[0], count=1)
        if start == 0 and end == len(lines) and first == kept[0] and _is_tidy(body, raw, lines):
            # Nothing peeled off, and the kept lines joined differ from the body only in its
            # blank lines: the same normal form, which the text hash computed already.
            return tuple(normalise_text(body).split())
        kept[0] = first
    return tuple(normalise_text("\n".join(kept)).split())


def _is_tidy(body: str, raw: list[str], lines: list[str]) -> bool:
    """Whether the body's lines (`raw`, str.splitlines) are stripped already or empty, and
    broken by "\n" alone ("\r\n" counts as one; "\r", "\x1c", "\u2028" and the other breaks of
    splitlines start no line for `normalise_text`'s list markers)."""
    return "".join(lines) == "".join(raw) and len(raw) == body.count("\n") + (
        not body.endswith("\n")
    )


def is_wire_source(site: str | None) -> bool:
    """Whether a site name is a news agency's (it wins ties for the original of a group)."""
    return bool(site and _WIRE_SOURCE.search(site))


def shingle_hashes(text: str, k: int = SHINGLE_WORDS) -> np.ndarray:
    """Sorted unique 64-bit hashes of the word k-shingles of the normalised text (a text of k
    words or fewer: one shingle of them all)."""
    return _unique(_windows(_word_hashes(normalise_text(text).split()), k))


def minhash_signature(body: str) -> bytes:
    """MinHash of the content's word shingles: NUM_PERM little-endian uint32 values."""
    return _signature(_shingles(content_words(body)))


def anchors(words: Sequence[str]) -> tuple[int, ...]:
    """The anchors of content words (`content_words`), sorted: the non-negative 63-bit hashes
    of the word 3-shingles sampled at ANCHOR_RATE, and at LEAD_ANCHOR_RATE in the first
    LEAD_ANCHOR_WORDS words, leaving out shingles of stop words only."""
    return _anchors(words, _shingles(words))


def _anchors(words: Sequence[str], hashes: np.ndarray) -> tuple[int, ...]:
    """`anchors`, given the words' shingle hashes (`_shingles`)."""
    if not hashes.size:
        return ()
    keep = np.ones(hashes.size, dtype=bool)
    if len(words) >= SHINGLE_WORDS:
        stop = np.fromiter((w in STOP_WORDS for w in words), dtype=bool, count=len(words))
        keep = ~(stop[:-2] & stop[1:-1] & stop[2:])
    mixed = (hashes * _ANCHOR_MIX) >> _ANCHOR_BITS  # wraps modulo 2**64, as intended
    chosen = keep & (mixed % np.uint64(ANCHOR_RATE) == 0)
    lead = _lead_windows(len(words), LEAD_ANCHOR_WORDS)
    chosen[:lead] |= keep[:lead] & (mixed[:lead] % np.uint64(LEAD_ANCHOR_RATE) == 0)
    return tuple(np.unique(hashes[chosen] >> np.uint64(1)).tolist())


def worth_verifying(
    signature: bytes, anchors: int, shared: int, their_anchors: int, other: bytes | None
) -> bool:
    """Whether a candidate is worth verifying on its text, given the new text's signature and
    number of anchors, and of the candidate: the anchors the two share, its number of anchors
    and its signature (`other`, needed only when `needs_signature`). It is when they share
    VERIFY_MIN_ANCHORS anchors, or VERIFY_MIN_SHARE of the anchors of the text with fewer and
    their signatures agree on VERIFY_MIN_JACCARD of their values. Two texts that share one or
    two anchors because both quote one sentence, or hold a common phrase, agree on a few
    values by chance, an estimated Jaccard of 0.02-0.05."""
    return worth_verifying_all(signature, anchors, [(shared, their_anchors, other)])[0]


def worth_verifying_all(
    signature: bytes, anchors: int, candidates: Sequence[tuple[int, int, bytes | None]]
) -> list[bool]:
    """`worth_verifying` of each (anchors shared, its anchors, its signature) candidate, the
    estimates in one vector step (a lookup has ~50 candidates)."""
    worth: list[bool] = []
    estimate: list[int] = []  # the candidates decided on their signatures
    for i, (shared, theirs, _) in enumerate(candidates):
        if needs_signature(anchors, shared, theirs):
            estimate.append(i)
        worth.append(shared >= VERIFY_MIN_ANCHORS)  # (else: too small a share, or estimated)
    if not estimate:
        return worth
    others: list[bytes] = []
    for i in estimate:
        other = candidates[i][2]
        if other is None:
            raise ValueError("the candidate's signature is needed")
        others.append(other)
    if len(signature) != _SIGNATURE_BYTES:  # (the others are checked against it below)
        raise ValueError("signatures of different lengths")
    for i, found in zip(estimate, estimated_jaccards(signature, others).tolist(), strict=True):
        worth[i] = found >= VERIFY_MIN_JACCARD
    return worth


def needs_signature(anchors: int, shared: int, their_anchors: int) -> bool:
    """Whether `worth_verifying` needs the candidate's signature (each is a random read at
    1M articles): not when the two share enough anchors, or too small a share of them."""
    return (
        shared < VERIFY_MIN_ANCHORS
        and anchor_share(shared, anchors, their_anchors) >= VERIFY_MIN_SHARE
    )


def anchor_share(shared: int, anchors: int, their_anchors: int) -> float:
    """The share of the anchors of the text with fewer that two texts share: an estimate of how
    much of the smaller text the larger holds."""
    return shared / max(1, min(anchors, their_anchors))


def estimated_jaccard(sig_a: bytes, sig_b: bytes) -> float:
    """Share of equal MinHash values: an unbiased estimate of the shingle sets' Jaccard."""
    return float(estimated_jaccards(sig_a, [sig_b])[0])


def estimated_jaccards(signature: bytes, others: Sequence[bytes]) -> np.ndarray:
    """`estimated_jaccard` of the signature with each of the others, in one vector step."""
    if any(len(other) != len(signature) for other in others):
        raise ValueError("signatures of different lengths")
    own = np.frombuffer(signature, dtype=_SIGNATURE_DTYPE)
    matrix = np.frombuffer(b"".join(others), dtype=_SIGNATURE_DTYPE).reshape(len(others), own.size)
    return np.count_nonzero(matrix == own, axis=1) / own.size


@dataclass(frozen=True)
class Fingerprint:
    """Everything dedup needs from one body, computed once."""

    text_hash: str | None  # None for a text with no words: such texts never dedup by text
    signature: bytes  # MinHash of the content
    word_count: int  # words of the content
    anchors: tuple[int, ...]  # `anchors`; empty when too short to be a near-copy candidate
    # `text_shingles` of the body, for `overlap` (from the shingles the signature needs).
    shingles: TextShingles = field(repr=False, compare=False)

    @property
    def near_copy_candidate(self) -> bool:
        return bool(self.anchors)


def fingerprint(body: str) -> Fingerprint:
    normalised = normalise_text(body)
    words = content_words(body)
    shingles = _shingles(words)  # (the signature's, the anchors' and the overlap's)
    return Fingerprint(
        text_hash=_sha256(normalised) if normalised else None,
        signature=_signature(shingles),
        word_count=len(words),
        anchors=_near_copy_anchors(words, shingles),
        shingles=_text_shingles(words, shingles),
    )


def index_anchors(body: str) -> tuple[int, ...]:
    """`fingerprint(body).anchors` alone (for a rebuild of the index: a third of the cost)."""
    return _near_copy_anchors(content_words(body))


def _near_copy_anchors(words: Sequence[str], shingles: np.ndarray | None = None) -> tuple[int, ...]:
    """The anchors of a text long enough to be a near-copy candidate, else none (`shingles`:
    the words' `_shingles`, when computed already)."""
    if len(words) < MIN_NEAR_COPY_WORDS:
        return ()
    return _anchors(words, _shingles(words) if shingles is None else shingles)


def _shingles(words: Sequence[str]) -> np.ndarray:
    """The hashes of the words' 3-shingles, in text order."""
    return _windows(_word_hashes(words), SHINGLE_WORDS)


def _signature(hashes: np.ndarray) -> bytes:
    """The MinHash of shingle hashes (`_shingles`)."""
    if not hashes.size:
        return np.full(NUM_PERM, np.iinfo(_SIGNATURE_DTYPE).max, dtype=_SIGNATURE_DTYPE).tobytes()
    # The high 32 bits (they depend on every word of the shingle), pre-mixed and permuted.
    values = (hashes >> np.uint64(32)).astype(np.uint32)
    s1, m1, s2, m2, s3 = _FMIX32  # the MurmurHash3 finalizer, as datasketch's
    values = values ^ (values >> s1)
    values = values * m1
    values = values ^ (values >> s2)
    values = values * m2
    values = values ^ (values >> s3)
    a, b = _PERMUTATIONS
    permuted = values[:, np.newaxis] * a + b  # wraps modulo 2**32, as datasketch's
    return permuted.min(axis=0).astype(_SIGNATURE_DTYPE).tobytes()


@dataclass(frozen=True)
class TextShingles:
    """The exact word 3-shingle sets verification compares, as sorted unique 64-bit hashes
    (computed here, never stored), of the content and of its lead."""

    full: np.ndarray
    lead: np.ndarray


@lru_cache(maxsize=512)
def text_shingles(body: str) -> TextShingles:
    words = content_words(body)
    return _text_shingles(words, _shingles(words))


def _text_shingles(words: Sequence[str], windows: np.ndarray) -> TextShingles:
    """`text_shingles`, given the content words and their shingle hashes (`_shingles`)."""
    return TextShingles(_unique(windows), _unique(windows[: _lead_windows(len(words))]))


@lru_cache(maxsize=512)
def _text_char_grams(body: str) -> tuple[np.ndarray, np.ndarray]:
    """The character 8-grams of the content and of its lead."""
    words = content_words(body)
    return _char_grams(" ".join(words)), _char_grams(" ".join(words[:LEAD_WORDS]))


@dataclass(frozen=True)
class Overlap:
    """How much of two texts' content is shared."""

    jaccard: float  # word 3-shingles
    containment: float  # word 3-shingles of the smaller text found in the larger
    first_is_smaller: bool
    lead_containment: float  # the larger of: a's lead in b, b's lead in a (word 3-shingles)
    # As `containment` and `lead_containment`, on character 8-grams: measured only when they
    # can decide (the first text is the smaller, its words do not make it a near copy, and
    # they hold at least CHAR_MIN_WORD_CONTAINMENT).
    char_containment: float = 0.0
    char_lead_containment: float = 0.0


def overlap(a: str, b: str, *, a_shingles: TextShingles | None = None) -> Overlap:
    """The overlap of body `a` with body `b` (`a_shingles`: its `text_shingles`, when known)."""
    sa = text_shingles(a) if a_shingles is None else a_shingles
    sb = text_shingles(b)
    if not sa.full.size or not sb.full.size:
        return Overlap(0.0, 0.0, sa.full.size <= sb.full.size, 0.0)
    shared = _shared(sa.full, sb.full)
    found = Overlap(
        jaccard=shared / (sa.full.size + sb.full.size - shared),
        containment=shared / min(sa.full.size, sb.full.size),
        first_is_smaller=sa.full.size <= sb.full.size,
        lead_containment=max(
            _shared(sa.lead, sb.full) / sa.lead.size, _shared(sb.lead, sa.full) / sb.lead.size
        ),
    )
    if not found.first_is_smaller or found.containment < CHAR_MIN_WORD_CONTAINMENT:
        return found
    if found.jaccard >= NEAR_COPY_THRESHOLD or _word_containment(found):
        return found
    # Character grams cost more than the words (a 5,000-character text has ~5,000 of them).
    chars_a, lead_chars_a = _text_char_grams(a)
    chars_b, lead_chars_b = _text_char_grams(b)
    return replace(
        found,
        char_containment=_shared(chars_a, chars_b) / max(1, min(chars_a.size, chars_b.size)),
        char_lead_containment=max(
            _shared(lead_chars_a, chars_b) / max(1, lead_chars_a.size),
            _shared(lead_chars_b, chars_a) / max(1, lead_chars_b.size),
        ),
    )


def is_near_copy(found: Overlap) -> bool:
    return (
        found.jaccard >= NEAR_COPY_THRESHOLD or _word_containment(found) or _char_containment(found)
    )


def describe(found: Overlap, original_id: int) -> tuple[str, float]:
    """Why a text is linked to original #id, and the measured overlap stored with the link:
    "near copy of #12 (Jaccard 0.87)", "91% of its text in #12", "holds 91% of #12"."""
    if found.jaccard >= NEAR_COPY_THRESHOLD:
        return f"near copy of #{original_id} (Jaccard {found.jaccard:.2f})", found.jaccard
    if _word_containment(found):
        share = found.containment
    elif _char_containment(found):
        share = found.char_containment
    else:  # linked through another member of its group
        return f"near copy of #{original_id} (Jaccard {found.jaccard:.2f})", found.jaccard
    if found.first_is_smaller:
        return f"{share:.0%} of its text in #{original_id}", share
    return f"holds {share:.0%} of #{original_id}", share


def _word_containment(found: Overlap) -> bool:
    return (
        found.containment >= CONTAINMENT_THRESHOLD
        and found.lead_containment >= LEAD_CONTAINMENT_THRESHOLD
    )


def _char_containment(found: Overlap) -> bool:
    return (
        found.first_is_smaller
        and found.char_containment >= CHAR_CONTAINMENT_THRESHOLD
        and found.char_lead_containment >= CHAR_LEAD_CONTAINMENT_THRESHOLD
    )


def _char_grams(text: str) -> np.ndarray:
    """Sorted unique hashes of the text's character CHAR_GRAM-grams (a text shorter than that:
    one gram)."""
    if not text:
        return np.empty(0, dtype=np.uint64)
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    return _unique(_windows(codes, CHAR_GRAM))


def _windows(values: np.ndarray, k: int) -> np.ndarray:
    """A polynomial hash of each window of k values, in order (fewer than k values: one window,
    zero-padded). k vector steps instead of a Python hash per position: 10x faster."""
    if not values.size:
        return np.empty(0, dtype=np.uint64)
    if values.size < k:
        values = np.pad(values, (0, k - values.size))
    count = values.size - k + 1
    hashes = np.zeros(count, dtype=np.uint64)
    for j in range(k):  # wraps modulo 2**64, as intended
        hashes = hashes * _WINDOW_BASE + values[j : j + count]
    return hashes


def _unique(hashes: np.ndarray) -> np.ndarray:
    hashes = np.sort(hashes)
    return hashes[np.concatenate(([True], hashes[1:] != hashes[:-1]))] if hashes.size else hashes


def _lead_windows(words: int, lead_words: int = LEAD_WORDS) -> int:
    """How many of a text's first shingles are its lead's (the shingles of its first
    `lead_words` words)."""
    return max(1, min(words, lead_words) - SHINGLE_WORDS + 1)


def _shared(a: np.ndarray, b: np.ndarray) -> int:
    """How many values two sorted unique arrays share (a binary search of the smaller's values
    in the larger: twice as fast as np.intersect1d)."""
    if a.size > b.size:
        a, b = b, a
    if not a.size:
        return 0
    at = np.searchsorted(b, a)
    at[at == b.size] = 0
    return int(np.count_nonzero(b[at] == a))


def _is_boilerplate(line: str) -> bool:
    return (
        len(line.split()) < 3
        or bool(_BOILERPLATE.search(line))
        or bool(_UPDATED_BAR.search(line))
        or bool(_BYLINE.match(line) and not line.endswith("."))
    )


@lru_cache(maxsize=1 << 18)
def _word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


def _word_hashes(words: Sequence[str]) -> np.ndarray:
    """64-bit hashes of the words (a text's shingle hashes are computed from these: one hash
    per word, most of them cached, instead of a SHA-1 per shingle)."""
    return np.fromiter(map(_word_hash, words), dtype=np.uint64, count=len(words))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
