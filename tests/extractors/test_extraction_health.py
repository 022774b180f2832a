from __future__ import annotations

from extractors.extraction_health import FAILED, OK, SHORT, SiteHealth, outcome_of


def test_outcomes() -> None:
    assert outcome_of(None) == FAILED
    assert outcome_of("Subscribe to read the rest of this article.") == SHORT
    assert outcome_of(" ".join(["word"] * 80)) == OK


def test_a_site_is_flagged_only_with_enough_bad_pages() -> None:
    assert not SiteHealth("a.example", 4, 4, 0, "no article text found").broken  # too few
    assert not SiteHealth("a.example", 10, 2, 2, None).broken  # mostly fine
    broken = SiteHealth("a.example", 10, 4, 2, "no article text found")
    assert broken.broken
    assert broken.describe() == (
        "Extraction from a.example is failing: 6 of its last 10 pages came out empty or "
        "short (no article text found)"
    )
