"""Invented news texts for the storage tests: a wire story, its syndicated copy, another story;
and a story row written directly."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from storage.schema import stories, story_terms


def store_story(conn: sa.Connection, story_id: int, last: datetime, term: str = "kabul") -> None:
    """A story published at `last` and its index entry for `term`, written as rows."""
    conn.execute(
        stories.insert().values(
            id=story_id,
            created=last,
            first_published=last,
            last_published=last,
            size=1,
            centroid={term: 1.0},
        )
    )
    conn.execute(story_terms.insert().values(term=term, story_id=story_id, last_published=last))


WIRE_PARAGRAPHS = [
    "Russia's special envoy for Afghanistan met a delegation of the Taliban government in "
    "Moscow on Tuesday to discuss trade, security along the northern border and the fate of "
    "a stalled gas pipeline project, the foreign ministry said in a statement.",
    "The talks, the third round this year, focused on fuel and wheat deliveries that Moscow "
    "agreed to supply at a discount last autumn, and on a rail corridor through Uzbekistan "
    "that both sides say could carry freight by the end of next year.",
    "Officials from both delegations described the meeting as constructive but gave few "
    "details. A Taliban spokesman said the two sides had agreed to set up a joint working "
    "group on banking, which has been the main obstacle to larger trade deals.",
    "Moscow has not formally recognised the Taliban administration but has moved steadily "
    "closer to it, removing the movement from its list of banned organisations and "
    "accepting an ambassador appointed by Kabul earlier this spring.",
    "Western diplomats in the region said the rapprochement reflected Russia's concern about "
    "militant groups operating in northern Afghanistan as much as any commercial interest, "
    "pointing to a series of attacks claimed by the regional branch of Islamic State.",
    "The envoy is expected to travel to Kabul next month for a regional conference on "
    "Afghanistan that will also bring together officials from China, Iran, Pakistan and the "
    "former Soviet republics of Central Asia.",
]

WIRE_BODY = "\n\n".join(WIRE_PARAGRAPHS)

# The same wire story as another outlet runs it: its own dateline, the last paragraph trimmed,
# a sentence lightly edited, and the outlet's footer.
COPY_BODY = "\n\n".join(
    [
        "MOSCOW, May 14 (Wire) - " + WIRE_PARAGRAPHS[0],
        WIRE_PARAGRAPHS[1],
        WIRE_PARAGRAPHS[2].replace("described the meeting as", "called the meeting"),
        WIRE_PARAGRAPHS[3],
        WIRE_PARAGRAPHS[4],
        "Reporting by the Moscow bureau; editing by the world desk. Follow our coverage of "
        "Central Asia and subscribe to the morning briefing for the day's top stories.",
    ]
)

OTHER_BODY = "\n\n".join(
    [
        "Heavy rain caused a river to burst its banks in the south of the country on Sunday, "
        "flooding hundreds of homes and forcing the closure of the main coastal motorway for "
        "the second time this month, emergency services said.",
        "Rescue teams used boats to evacuate residents of three villages, and the regional "
        "governor declared a state of emergency as forecasters warned that more storms were "
        "on the way from the Atlantic later in the week.",
        "Farmers said the floods had destroyed much of the autumn harvest in the valley, where "
        "vineyards and orchards were under water, and called on the government to release "
        "disaster funds without the usual delays.",
        "Scientists have linked the growing frequency of such downpours to warmer sea "
        "temperatures, which put more moisture into the air during the late summer months.",
    ]
)

# The wire story trimmed to its first two paragraphs by an outlet that adds its dateline.
TRIMMED_BODY = "\n\n".join(["MOSCOW (Reuters) - " + WIRE_PARAGRAPHS[0], WIRE_PARAGRAPHS[1]])

# The wire story under an outlet's share bar, byline bar and newsletter/copyright footer.
DRESSED_BODY = "\n\n".join(
    [
        "Share this article: Facebook Twitter Email",
        "Daily Herald | Updated 9:41 a.m.",
        *WIRE_PARAGRAPHS,
        "Sign up for our daily newsletter to get the top stories delivered to your inbox.",
        "Copyright 2024 Daily Herald. All rights reserved. This material may not be published, "
        "broadcast, rewritten or redistributed.",
    ]
)

# Another outlet's own write-up of the same meeting: same facts, a shared quote, other words.
REWRITE_BODY = "\n\n".join(
    [
        "Taliban officials held a third round of talks with Russia's special envoy for "
        "Afghanistan in Moscow this week, as the Kremlin edges towards closer ties with the "
        "government in Kabul.",
        "According to the Russian foreign ministry, the two delegations discussed trade, "
        "security along the northern border and the fate of a stalled gas pipeline project. "
        "A Taliban spokesman said the two sides had agreed to set up a joint working group on "
        "banking.",
        "Russia has yet to recognise the Taliban formally. It removed the movement from its "
        "list of banned organisations last year and has accepted an ambassador from Kabul.",
        "Analysts in Moscow say the Kremlin's priority is security: it fears that militant "
        "groups in northern Afghanistan could spread into Central Asia, where Russia keeps "
        "troops and bases.",
        "The envoy is expected in Kabul next month for a regional conference on Afghanistan.",
    ]
)

# Two earthquakes on one day, far apart: events of one kind that are different stories.
QUAKE_CHILE_BODY = "\n\n".join(
    [
        "A magnitude 6.8 earthquake struck off the coast of northern Chile on Monday, shaking "
        "buildings in the port city of Antofagasta and cutting power to thousands of homes, "
        "the national emergency office Senapred said.",
        "The quake was centred 40 kilometres west of Antofagasta at a depth of 30 kilometres, "
        "according to the US Geological Survey. The Chilean navy said there was no threat of a "
        "tsunami but asked residents of low-lying areas to stay alert.",
        "Mining company Codelco said it had halted work at two copper mines near Calama as a "
        "precaution while engineers inspected shafts and processing plants for damage.",
        "President Gabriel Boric said on social media that two people had been injured by "
        "falling debris in Antofagasta and that no deaths had been reported.",
    ]
)

QUAKE_CHILE_REWRITE = "\n\n".join(
    [
        "Residents of Antofagasta ran into the streets on Monday as a strong earthquake rocked "
        "northern Chile, knocking out electricity across the region.",
        "Senapred, Chile's emergency agency, put the magnitude at 6.8 and said the epicentre "
        "lay in the Pacific west of Antofagasta. The Chilean navy ruled out a tsunami.",
        "Codelco stopped operations at copper mines around Calama while damage was assessed, "
        "and Gabriel Boric said two people were hurt by falling masonry.",
    ]
)

QUAKE_PAPUA_BODY = "\n\n".join(
    [
        "A magnitude 6.1 earthquake hit Indonesia's West Papua province on Monday, killing a "
        "child and injuring dozens as houses collapsed in the town of Manokwari, the national "
        "disaster agency BNPB said.",
        "The quake struck at a shallow depth of 10 kilometres, according to the US Geological "
        "Survey, and was followed by several strong aftershocks that sent thousands of "
        "residents to makeshift camps on higher ground.",
        "Agency spokesman Sutopo Purwo Nugroho said rescue teams were searching the rubble of "
        "a market in Manokwari and that the hospital had treated more than 40 people.",
        "Indonesia sits on the Pacific Ring of Fire and is regularly hit by earthquakes; the "
        "government said there was no tsunami warning.",
    ]
)
