"""The watch query language: parsing, matching, errors; and match_article."""

from __future__ import annotations

import pytest

from extractors.records import Article, RelevanceMatch
from extractors.relevance import Query, QuerySyntaxError, match_article

RUSSIA_TALIBAN = (
    "(Russia OR Moscow OR Kremlin OR Lavrov OR Putin OR Kabulov) AND "
    '(Taliban OR Afghanistan OR Kabul OR "Islamic Emirate")'
)


@pytest.fixture(scope="module")
def watch() -> Query:
    return Query.parse(RUSSIA_TALIBAN)


def test_terms_are_the_positive_terms_in_query_order(watch: Query) -> None:
    assert watch.terms == (
        "Russia",
        "Moscow",
        "Kremlin",
        "Lavrov",
        "Putin",
        "Kabulov",
        "Taliban",
        "Afghanistan",
        "Kabul",
        "Islamic Emirate",
    )


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        (
            "Russia hosted Taliban leaders for talks on regional security Friday as it seeks "
            "to forge ties with Afghanistan's new rulers.",
            ("Russia", "Taliban", "Afghanistan"),
        ),
        (
            "Zamir Kabulov, the Kremlin's envoy, said Moscow would keep engaging with the "
            "Islamic Emirate.",
            ("Moscow", "Kremlin", "Kabulov", "Islamic Emirate"),
        ),
        ("LAVROV MEETS TALIBAN DELEGATION", ("Lavrov", "Taliban")),
        ("Putin’s envoy flew to Kabul.", ("Putin", "Kabul")),
    ],
)
def test_matching_texts(watch: Query, text: str, terms: tuple[str, ...]) -> None:
    assert watch.match(text) == terms


@pytest.mark.parametrize(
    "text",
    [
        "The home side came from two goals down to win a thrilling derby on Saturday.",
        "Russia and China held talks on trade in Beijing.",  # one side only
        "The Taliban banned secondary education for girls in Afghanistan.",  # other side only
        "Russian officials met Afghan ministers.",  # no stemming: Russian ≠ Russia, Afghan ≠ …
        "Zamir Kabulov met Kabulova and the Kabulis.",  # Kabul is not in Kabulov
        "",
    ],
)
def test_non_matching_texts(watch: Query, text: str) -> None:
    assert watch.match(text) == ()


def test_whole_words_only() -> None:
    kabul = Query.parse("Kabul")
    assert kabul.match("Kabulov arrived") == ()
    assert kabul.match("arrived in Kabul.") == ("Kabul",)
    assert kabul.match("Kabul-based diplomats") == ("Kabul",)
    russia = Query.parse("Russia")
    assert russia.match("Russian troops") == ()
    assert russia.match("Russia's troops") == ("Russia",)
    assert Query.parse("Russia OR Russian").match("Russian troops") == ("Russian",)


def test_unicode_and_case() -> None:
    query = Query.parse("Zürich OR Кабул OR ÉMIRAT")
    assert query.match("In ZÜRICH today") == ("Zürich",)
    assert query.match("Делегация прибыла в Кабул") == ("Кабул",)
    assert query.match("l'émirat islamique") == ("ÉMIRAT",)
    assert query.match("Кабулов") == ()


def test_soft_hyphens_do_not_split_words() -> None:
    assert Query.parse("Afghanistan").match("Af\u00adghan\u00adistan") == ("Afghanistan",)


def test_phrases_span_line_breaks_and_punctuation() -> None:
    query = Query.parse('"Islamic Emirate"')
    assert query.match("talks with the Islamic\nEmirate of Afghanistan") == ("Islamic Emirate",)
    assert query.match("the Islamic — Emirate") == ("Islamic Emirate",)
    assert query.match("**Islamic** [Emirate](https://example.org)") == ("Islamic Emirate",)
    assert query.match("Islamic law in the Emirate") == ()
    assert query.match("Emirate Islamic") == ()
    assert Query.parse('"Moscow format"').match("the so-called Moscow-format talks") == (
        "Moscow format",
    )


def test_hyphenated_term_is_a_phrase() -> None:
    assert Query.parse("Taliban-led").match("the Taliban led government") == ("Taliban-led",)
    assert Query.parse("Taliban-led").match("the Taliban government led by") == ()


def test_not_and_minus() -> None:
    query = Query.parse("Russia AND Taliban NOT Ukraine")
    assert query.terms == ("Russia", "Taliban")
    assert query.match("Russia met the Taliban") == ("Russia", "Taliban")
    assert query.match("Russia met the Taliban while fighting in Ukraine") == ()
    assert Query.parse("Russia Taliban -Ukraine").match("Russia, Taliban, Ukraine") == ()
    assert Query.parse("Russia -(Ukraine OR Kyiv)").match("Russia and Kyiv") == ()
    assert Query.parse("Russia -(Ukraine OR Kyiv)").match("Russia and Kabul") == ("Russia",)


def test_precedence_not_and_or() -> None:
    # NOT > AND > OR: a OR b AND NOT c  ==  a OR (b AND (NOT c))
    query = Query.parse("Lavrov OR Moscow AND NOT Ukraine")
    assert query.match("Lavrov in Ukraine") == ("Lavrov",)
    assert query.match("Moscow and Ukraine") == ()
    assert query.match("Moscow") == ("Moscow",)


def test_implicit_and() -> None:
    query = Query.parse('Lavrov Kabul "trade mission"')
    assert query.match("Lavrov: Russia to open trade mission in Kabul") == (
        "Lavrov",
        "Kabul",
        "trade mission",
    )
    assert query.match("Lavrov visits Kabul") == ()


def test_only_terms_that_made_the_match_are_returned() -> None:
    query = Query.parse("(Russia AND Taliban) OR Kabul")
    assert query.match("Russia's envoy arrived in Kabul") == ("Kabul",)
    assert query.match("Russia and the Taliban in Kabul") == ("Russia", "Taliban", "Kabul")


def test_lower_case_operators_are_words() -> None:
    query = Query.parse("Russia or Taliban")
    assert query.terms == ("Russia", "or", "Taliban")
    assert query.match("Russia, Taliban") == ()
    assert query.match("Russia or Taliban") == ("Russia", "or", "Taliban")


def test_a_negation_alone_does_not_make_a_match() -> None:
    query = Query.parse("Russia OR NOT Ukraine")
    assert query.match("Nothing relevant here") == ()
    assert query.match("Russia") == ("Russia",)


def test_query_is_reusable_and_comparable() -> None:
    assert Query.parse("Russia  AND Taliban") == Query.parse("Russia AND (Taliban)")
    assert Query.parse("(Russia) Taliban") == Query.parse("Russia AND Taliban")
    assert hash(Query.parse("(Russia) Taliban")) == hash(Query.parse("Russia AND Taliban"))
    assert Query.parse("Russia") != Query.parse("Taliban")


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        ("", "empty query", 0),
        ("   ", "empty query", 0),
        ("(Russia OR Moscow) AND Taliban)", 'unexpected ")" at position 30', 30),
        ("(Russia OR Moscow AND Taliban", "unclosed parenthesis opened at position 0", 0),
        ("Russia AND (Taliban OR (Kabul)", "unclosed parenthesis opened at position 11", 11),
        ("Russia AND", 'unexpected end of query after "AND" at position 10', 10),
        ("OR Russia", 'unexpected "OR" at position 0', 0),
        ("Russia AND OR Taliban", 'unexpected "OR" at position 11', 11),
        ("Russia ()", 'unexpected ")" at position 8', 8),
        ('Russia "Islamic Emirate', "unclosed quote opened at position 7", 7),
        ('Russia ""', "empty phrase at position 7", 7),
        ("Russia & Taliban", "no letters or digits in '&' at position 7", 7),
        ("NOT Ukraine", "query has no positive term (only NOT) at position 0", 0),
    ],
)
def test_syntax_errors(query: str, message: str, position: int) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        Query.parse(query)
    assert str(caught.value) == message
    assert caught.value.position == position
    assert isinstance(caught.value, ValueError)


def _article(title: str, body: str) -> Article:
    return Article(
        url="https://example.org/a",
        canonical_url="https://example.org/a",
        title=title,
        body=body,
        text=f"{title}\n\n{body}\n",
    )


def test_match_article_reads_title_and_body(watch: Query) -> None:
    article = _article("Lavrov: Russia to open trade mission", "The mission will be in Kabul.")
    assert match_article(article, "russia-taliban", watch) == RelevanceMatch(
        watch="russia-taliban", matched=True, terms=("Russia", "Lavrov", "Kabul")
    )
    football = _article("Late double completes derby comeback", "The home side won.")
    assert match_article(football, "russia-taliban", watch) == RelevanceMatch(
        watch="russia-taliban", matched=False, terms=()
    )


def test_title_and_body_are_read_as_one_text() -> None:
    query = Query.parse('"Islamic Emirate"')
    assert match_article(_article("Islamic", "Emirate"), "w", query).matched  # a line break
    assert not match_article(_article("Islamic State", "Emirate"), "w", query).matched
