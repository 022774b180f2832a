"""Furniture paragraphs: each rule on the paragraphs news pages really carry, and the prose
that merely looks like them."""

from __future__ import annotations

import pytest

from extractors.boilerplate import is_furniture, without_link_runs


@pytest.mark.parametrize(
    "paragraph",
    [
        # teasers for other stories
        "Related: From Big Bang to Present: Snapshots of Our Universe Through Time",
        "Read more: [Europa's plumes in pictures](https://space.example/europa-plumes)",
        "RELATED ARTICLES: Scientists find water vapour above Europa's surface",
        "DON'T MISS | Plague warning: CDC names eight deadly diseases [WARNING] | Holidaymakers "
        "die after eating marmot [INSIGHT]",
        # newsletter and subscription promos
        "Sign up for our free daily newsletter and get the best stories in your inbox.",
        "There's plenty more where that came from. Sign up for The Water Coolest today to get "
        "the free daily newsletter delivered to your inbox daily.",
        "Pick Six Newsletter",
        # follow-us and author-contact trailers
        "Email Tariq Malik at tmalik@space.example or follow him @tariqjmalik. Follow us on "
        "Twitter @Spacedotcom and on Facebook.",
        "Have a tip? Amy Kaplan may be reached at akaplan@gardenstate.example. Follow her on "
        "Twitter @amyk or on Facebook.",
        "Mike Wall's book about the search for alien life is out now. Follow him on Twitter "
        "@michaeldwall.",
        # wire-service credit lines
        "Reporting by Rodrigo Campos; additional reporting by Stephanie Kelly; Editing by Nick "
        "Zieminski and Dan Grebler",
        "(Reporting by Greg Roumeliotis and Joshua Franklin, editing by Martin Howell.)",
        # photo captions and credits
        "The core stage at the Michoud Assembly Facility after the installation of its four "
        "engines. (credit: NASA/Jude Guidry)",
        "Jewels after Jewels, installation views, photos © Inexhibit, 2018",
        "Image credit: Getty Images",
        # comment-section and time-stamp furniture
        "Tell us what YOU think...",
        "12 comments",
        "Updated at 1:23 p.m.",
        "Share on Facebook",
        "Advertisement",
    ],
)
def test_furniture(paragraph: str) -> None:
    assert is_furniture(paragraph)


@pytest.mark.parametrize(
    "paragraph",
    [
        "By the time the delegates arrived, the talks had already begun.",
        "Related coverage of the summit focused on the trade deal rather than on security.",
        "More than 300 people were evacuated from the town on Sunday, officials said.",
        "Anyone with information is asked to call the police tip line or email "
        "tips@police.example, the sheriff said on Monday.",
        "The newsletter, which goes to 40,000 readers, first reported the resignation.",
        "Reporting by the Times found that the agency had ignored the warnings for years.",
        "Updated figures released on Monday showed 4,000 new cases in the region.",
        "Follow the money, the investigators were told, and they did.",
        # a long paragraph is article text whatever it contains
        "Sign up for the newsletter, the company urged its customers in an email on Monday, "
        "promising daily tips; critics said the campaign, which ran for six weeks and cost "
        "more than a million dollars, did little to win back the users who had left after "
        "the data breach last spring.",
    ],
)
def test_prose_that_looks_like_furniture_is_kept(paragraph: str) -> None:
    assert not is_furniture(paragraph)


def test_runs_of_link_blocks_and_their_label_are_dropped() -> None:
    paragraphs = [
        "The ministry did not say when the ambassador would return.",
        "More on this story",
        "[China names ambassador](https://w.example/a)",
        "[Flights resume at Kabul airport](https://w.example/b)",
        "A single [linked phrase](https://w.example/c) inside prose stays.",
        "Officials will meet again next month.",
    ]
    assert without_link_runs(paragraphs) == [
        "The ministry did not say when the ambassador would return.",
        "A single [linked phrase](https://w.example/c) inside prose stays.",
        "Officials will meet again next month.",
    ]
