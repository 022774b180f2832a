from __future__ import annotations

import pytest
from datasketch import MinHash

from storage import dedup
from storage.dedup import (
    CONTAINMENT_THRESHOLD,
    MIN_NEAR_COPY_WORDS,
    NEAR_COPY_THRESHOLD,
    anchors,
    content_words,
    describe,
    estimated_jaccard,
    fingerprint,
    is_near_copy,
    is_wire_source,
    minhash_signature,
    normalise_text,
    overlap,
    shingle_hashes,
    text_hash,
)
from tests.storage.stories import (
    COPY_BODY,
    DRESSED_BODY,
    OTHER_BODY,
    REWRITE_BODY,
    TRIMMED_BODY,
    WIRE_BODY,
)


def test_normalise_text_strips_markup_punctuation_and_case() -> None:
    body = (
        "Lavrov met the [Taliban envoy](https://example.org/envoy) in MOSCOW.\n\n"
        "- first item\n* second item\n1. third item\n\n"
        "“Quotes”, dashes — and   spaces…"
    )
    assert normalise_text(body) == (
        "lavrov met the taliban envoy in moscow first item second item third item "
        "quotes dashes and spaces"
    )


def test_normalise_text_applies_nfkc() -> None:
    # Ligature, full-width letters and a non-breaking space fold to their plain forms.
    assert normalise_text("ﬁnal ＡＢＣ\u00a0x") == "final abc x"


def test_text_hash_ignores_formatting_only() -> None:
    assert text_hash("Hello, [world](http://a.example)!\n\n- Item") == text_hash("hello world item")
    assert text_hash("hello world") != text_hash("hello there world")
    assert len(text_hash("x")) == 64


def test_shingles_are_word_windows() -> None:
    six = shingle_hashes("One two three four five six", k=5)
    assert len(six) == 2
    # The windows, not the words: the same two windows in another text are the same hashes.
    longer = set(shingle_hashes("One two three four five, two three four five six", k=5))
    assert set(six) < longer and len(longer) == 6
    assert set(six) & set(shingle_hashes("One two three four five", k=5))
    assert not set(six) & set(shingle_hashes("Two one three four five", k=5))
    # A short text is one shingle of all its words; no words, no shingles.
    assert len(shingle_hashes("Too short", k=5)) == 1
    assert shingle_hashes("too short", k=5) != shingle_hashes("short too", k=5)
    assert len(shingle_hashes("  ", k=5)) == 0


def test_signature_matches_datasketch() -> None:
    # The signature is datasketch's MinHash of the content's shingle hashes.
    words = dedup.content_words(WIRE_BODY)
    hashes = dedup._windows(dedup._word_hashes(words), dedup.SHINGLE_WORDS)
    reference = MinHash(
        num_perm=dedup.NUM_PERM, seed=dedup.MINHASH_SEED, scheme="affine32", hashfunc=int
    )
    reference.update_batch([int(h) >> 32 for h in hashes])
    assert minhash_signature(WIRE_BODY) == reference.hashvalues.astype("<u4").tobytes()


def test_signature_is_stable_bytes() -> None:
    signature = minhash_signature(WIRE_BODY)
    assert isinstance(signature, bytes)
    assert len(signature) == dedup.NUM_PERM * 4
    assert minhash_signature(WIRE_BODY) == signature
    assert estimated_jaccard(signature, signature) == 1.0


def test_anchors_are_sorted_bigints_sampled_by_the_shingle() -> None:
    words = content_words(WIRE_BODY)
    found = anchors(words)
    assert list(found) == sorted(set(found)) and all(0 <= a < 2**63 for a in found)
    assert fingerprint(WIRE_BODY).anchors == found
    # A sample of shingles, denser in the lead: a few per text, more than the lead's share.
    assert 0 < len(found) < len(words) // 3
    assert len(anchors(words[: dedup.LEAD_ANCHOR_WORDS])) > len(
        found
    ) * dedup.LEAD_ANCHOR_WORDS / len(words)
    # Chosen by the shingle, not by the text: a trimmed copy's anchors are all its original's.
    for kept in (20, 60, len(words) // 2):
        assert set(anchors(words[:kept])) <= set(found)


def test_shingles_of_stop_words_are_never_anchors() -> None:
    stop_words = sorted(dedup.STOP_WORDS)[:100]
    assert anchors(stop_words) == ()  # (13 of its 98 shingles are sampled)
    # With one other word in every shingle, the sampled ones are anchors.
    assert anchors([w for pair in zip(stop_words, ["kabul"] * 100, strict=True) for w in pair])
    assert anchors([]) == ()


def test_jaccard_estimate_separates_copies_from_other_texts() -> None:
    wire, copy, other = (minhash_signature(b) for b in (WIRE_BODY, COPY_BODY, OTHER_BODY))
    assert estimated_jaccard(wire, copy) >= NEAR_COPY_THRESHOLD
    assert estimated_jaccard(wire, other) < 0.1
    # The copy shares anchors with its original, the other story none.
    wire_anchors, copy_anchors, other_anchors = (
        set(fingerprint(b).anchors) for b in (WIRE_BODY, COPY_BODY, OTHER_BODY)
    )
    assert wire_anchors & copy_anchors
    assert not wire_anchors & other_anchors


def test_estimate_tracks_true_jaccard() -> None:
    words = [f"w{i}" for i in range(400)]
    a = " ".join(words[:300])
    b = " ".join(words[100:400])
    sa, sb = set(shingle_hashes(a)), set(shingle_hashes(b))
    truth = len(sa & sb) / len(sa | sb)
    assert truth == pytest.approx(198 / 398)
    assert estimated_jaccard(minhash_signature(a), minhash_signature(b)) == pytest.approx(
        truth, abs=0.12
    )


def test_short_texts_are_never_near_copy_candidates() -> None:
    short = " ".join(["word"] * (MIN_NEAR_COPY_WORDS - 1))
    assert not fingerprint(short).near_copy_candidate
    assert fingerprint(short).text_hash == text_hash(short)
    assert fingerprint(WIRE_BODY).near_copy_candidate


def test_empty_text_has_no_hash() -> None:
    empty = fingerprint(" … ")
    assert empty.text_hash is None
    assert not empty.near_copy_candidate


# --- content, overlap and the near-copy rule -------------------------------------------------


def test_content_drops_edge_boilerplate_and_dateline() -> None:
    assert content_words(DRESSED_BODY) == content_words(WIRE_BODY)
    assert content_words(TRIMMED_BODY)[:4] == ["russia", "s", "special", "envoy"]
    # Prose that merely mentions a copyright is kept: only edge lines are looked at.
    body = f"Copyright lawyers said nothing.\n\n{WIRE_BODY}"
    assert content_words(body)[:2] == ["copyright", "lawyers"]


def test_trimmed_copy_is_contained_in_its_original() -> None:
    found = overlap(TRIMMED_BODY, WIRE_BODY)
    assert found.first_is_smaller and found.containment > 0.95
    assert found.jaccard < NEAR_COPY_THRESHOLD  # the trim halves the Jaccard...
    assert is_near_copy(found)  # ...containment and the shared lead still find it
    assert describe(found, 12) == (f"{found.containment:.0%} of its text in #12", found.containment)
    reverse = overlap(WIRE_BODY, TRIMMED_BODY)
    assert describe(reverse, 12)[0] == f"holds {reverse.containment:.0%} of #12"


def test_dressed_copy_is_the_same_content() -> None:
    found = overlap(DRESSED_BODY, WIRE_BODY)
    assert found.jaccard == 1.0 and is_near_copy(found)
    assert describe(found, 7) == ("near copy of #7 (Jaccard 1.00)", 1.0)


def test_two_write_ups_of_one_event_are_not_near_copies() -> None:
    found = overlap(REWRITE_BODY, WIRE_BODY)
    assert 0 < found.containment < CONTAINMENT_THRESHOLD
    assert not is_near_copy(found)
    assert not is_near_copy(overlap(OTHER_BODY, WIRE_BODY))


def test_a_copy_with_typos_is_a_near_copy_on_characters() -> None:
    # A slip in every fourth word breaks most word shingles, few character grams.
    words = WIRE_BODY.split(" ")
    slips = " ".join(w[:-1] + "q" if i % 4 == 2 and len(w) > 3 else w for i, w in enumerate(words))
    found = overlap(slips, WIRE_BODY)
    assert found.jaccard < NEAR_COPY_THRESHOLD and found.containment < CONTAINMENT_THRESHOLD
    assert found.char_containment >= dedup.CHAR_CONTAINMENT_THRESHOLD
    assert is_near_copy(found)
    assert describe(found, 7) == (
        f"{found.char_containment:.0%} of its text in #7",
        found.char_containment,
    )


def test_wire_sources() -> None:
    assert is_wire_source("Reuters") and is_wire_source("The Associated Press")
    assert is_wire_source("AFP") and not is_wire_source("Daily Herald")
    assert not is_wire_source(None) and not is_wire_source("Apple Insider")


def test_trimmed_and_dressed_copies_are_worth_verifying_other_texts_are_not() -> None:
    wire = fingerprint(WIRE_BODY)
    for body in (TRIMMED_BODY, DRESSED_BODY, COPY_BODY):
        copy = fingerprint(body)
        shared = len(set(wire.anchors) & set(copy.anchors))
        assert dedup.worth_verifying(
            wire.signature, len(wire.anchors), shared, len(copy.anchors), copy.signature
        )
        # Sharing fewer anchors, the copy is still worth it on its signature ...
        assert dedup.needs_signature(len(wire.anchors), 3, len(copy.anchors))
        assert dedup.worth_verifying(
            wire.signature, len(wire.anchors), 3, len(copy.anchors), copy.signature
        )
    other = fingerprint(OTHER_BODY)
    # ... where another story's text is not.
    assert dedup.needs_signature(len(wire.anchors), 3, len(other.anchors))
    assert not dedup.worth_verifying(
        wire.signature, len(wire.anchors), 3, len(other.anchors), other.signature
    )
    # Many shared anchors are reason enough, whatever the full-text estimate says, and then the
    # candidate's signature is not read at all (a random read at scale).
    assert not dedup.needs_signature(len(wire.anchors), dedup.VERIFY_MIN_ANCHORS, 15)
    assert dedup.worth_verifying(
        wire.signature, len(wire.anchors), dedup.VERIFY_MIN_ANCHORS, len(other.anchors), None
    )
    with pytest.raises(ValueError, match="signature is needed"):
        dedup.worth_verifying(wire.signature, len(wire.anchors), 3, len(other.anchors), None)


def test_one_anchor_of_many_is_not_worth_a_signature_read() -> None:
    """A text sharing one anchor of ~28 with another (a common phrase) is dropped without its
    signature; one anchor of a short text's few is a share worth the read."""
    wire = fingerprint(WIRE_BODY)
    assert dedup.anchor_share(1, len(wire.anchors), 28) < dedup.VERIFY_MIN_SHARE
    assert not dedup.needs_signature(len(wire.anchors), 1, 28)
    assert not dedup.worth_verifying(wire.signature, len(wire.anchors), 1, 28, None)
    # The share is of the text with fewer anchors, whichever it is.
    assert dedup.anchor_share(1, len(wire.anchors), 4) == dedup.anchor_share(1, 4, 28) == 0.25
    assert dedup.needs_signature(len(wire.anchors), 1, 4)
    assert dedup.needs_signature(4, 1, len(wire.anchors))


def test_worth_verifying_all_is_worth_verifying_of_each() -> None:
    wire = fingerprint(WIRE_BODY)
    own = len(wire.anchors)
    copy, other, trimmed = (fingerprint(b) for b in (COPY_BODY, OTHER_BODY, TRIMMED_BODY))
    candidates = [
        (3, len(copy.anchors), copy.signature),
        (3, len(other.anchors), other.signature),
        (dedup.VERIFY_MIN_ANCHORS, 15, None),
        (2, len(trimmed.anchors), trimmed.signature),
        (1, 28, None),
    ]
    found = dedup.worth_verifying_all(wire.signature, own, candidates)
    assert found == [dedup.worth_verifying(wire.signature, own, *c) for c in candidates]
    assert found == [True, False, True, True, False]
    assert dedup.worth_verifying_all(wire.signature, own, []) == []
    with pytest.raises(ValueError, match="different lengths"):
        dedup.worth_verifying_all(wire.signature, own, [(1, 2, b"short")])


@pytest.mark.parametrize(
    "body",
    [
        "Kabul talks resume today.\n\nThe envoy met officials.\n\nMore later in the week.",
        "Kabul talks resume today.\n 1. \nThe envoy met officials.\n\n2. a second point here",
        "Kabul talks resume today.\r\nThe envoy met officials.\r1. a list item here",
        "Kabul talks resume today.\x1c1. The envoy met officials and left.",
    ],
)
def test_content_words_of_a_whole_body_match_its_lines(body: str) -> None:
    # A body with nothing peeled off takes the text hash's normal form; bodies whose lines are
    # not stripped, or broken by other characters than "\n", are normalised line by line.
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    assert content_words(body) == normalise_text("\n".join(lines)).split()
