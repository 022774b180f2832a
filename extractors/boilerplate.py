"""Which paragraphs of an extracted body are page furniture, not article text.

Rules for news pages in general (no site is named): whole furniture paragraphs ("Share this",
"Advertisement", "Related: <headline>"), newsletter and subscription promos, "follow us" and
author-contact trailers, wire-service credit lines ("Reporting by …; Editing by …"), photo
captions and credits, and runs of link-only blocks (related-headline lists). Each rule looks at
one short paragraph: long paragraphs are article text whatever they contain.
"""

from __future__ import annotations

import re

# Whole paragraphs that are page furniture (matched case-insensitively, the whole paragraph).
_FURNITURE = re.compile(
    r"^(?:advertisement|advertising|sponsored(?: content)?|ad|"
    r"(?:read|see|show|load) (?:more|less|also|next)\b.{0,80}|continue reading.{0,80}|"
    r"(?:share|tweet|email|print) (?:this|on|via)\b.{0,40}|share|"
    r"(?:share|email|print) (?:the )?(?:article|story|page)\b.{0,20}|"
    r"(?:sign up|subscribe|register)\b.*\b(?:newsletters?|inbox|updates|free)\b.*|"
    r"subscribe(?: now| today| here)?!?|(?:get|receive) (?:our|the) .*newsletter.*|"
    r"(?:editor'?s|editors'?|our) (?:picks?|choice)|"
    r"related(?: stories| articles| content| news| coverage)?:?|"
    r"recommended(?: for you| stories| articles)?:?|most (?:read|popular|viewed)|trending(?: now)?|"
    r"follow us\b.*|click here\b.*|(?:the )?story continues below.*|skip (?:to|advert).*|"
    r"we use cookies\b.*|this (?:site|website) uses cookies\b.*|accept (?:all )?cookies|"
    r"(?:image|photo|picture)s?(?: credits?| source)?: .{0,60}|(?:image|photo) credits?\b.{0,60}|"
    r"icon-[\w-]+(?: icon-[\w-]+)*|"
    r"(?:copyright\b|©|\(c\)).{0,120}|all rights reserved\.?|"
    r"(?:don'?t|do not) miss\b.*|must read:?|(?:also|read) (?:also|more):?|see also:?|"
    r"more (?:from|on) .{0,40}|"
    # a headline teaser: "Related: <headline>", "Read more: <headline>", "Watch: <headline>"
    r"(?:related(?: articles?| stories| story| content| coverage| news)?|read more|read also|"
    r"also read|see also|more|recommended|watch|listen|pictures|photos|video)\s*:\s*.{1,200}|"
    # comment-section furniture
    r"\d*\s*comments?|(?:leave|post|add|write) a (?:comment|reply)\b.*|"
    r"tell us what you think\b.*|join the (?:conversation|discussion)\b.*|"
    # a time stamp line: "Updated at 1:23 p.m.", "Published 18 November 2019"
    r"(?:last )?(?:updated|published|posted|first published)\b.{0,12}\d.{0,40})$",
    re.I,
)
_FURNITURE_MAX_WORDS = 25
_PROMO_MAX_WORDS = 45  # newsletter promos, follow/contact trailers, credits, captions
_NEWSLETTER = re.compile(r"\bnewsletters?\b", re.I)
_SIGN_UP = re.compile(
    r"\b(?:sign(?:ing)? up|subscribe|inbox|delivered (?:straight |directly )?to your|"
    r"free daily)\b",
    re.I,
)
_NEWSLETTER_TITLE = re.compile(r"^[\w'’&+ -]{0,40}\bnewsletters?$", re.I)
_FOLLOW = re.compile(
    r"\bfollow (?:us|him|her|them|me)\b(?: on)?\s*(?:twitter|facebook|instagram|linkedin|@)", re.I
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
# the author's address: "may be reached at", "Email Jane Doe at", "Have a tip?"
_CONTACT = re.compile(
    r"\b(?:(?:can|may) be reached|(?:reach|contact|e-?mail) (?:him|her|them|me|us)|"
    r"have a (?:news )?tip|send (?:us )?(?:a |your )?tips?|write to)\b|"
    r"\be-?mail\b[^.]{0,40}\bat\s+\S+@",
    re.I,
)
_WIRE_CREDIT = re.compile(
    r"^\(?(?:additional )?(?:reporting|writing|written|compiled) by\b.*\bedit(?:ing|ed) by\b", re.I
)
_CAPTION_END = re.compile(
    r"\((?:photo|image|picture|credit|foto|video)s?(?: credits?)?(?: by|:)?[^()]{0,80}\)\.?$", re.I
)
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)\s]*\)")
_WORD = re.compile(r"\w+")


def is_furniture(paragraph: str) -> bool:
    """A paragraph that is page furniture, not article text."""
    words = len(paragraph.split())
    if words > _PROMO_MAX_WORDS:
        return False
    plain = _MD_LINK.sub(r"\1", paragraph).strip(" -•|>")
    if words <= _FURNITURE_MAX_WORDS and _FURNITURE.match(plain):
        return True
    return (
        _is_newsletter_promo(plain)
        or _FOLLOW.search(plain) is not None
        or (_EMAIL.search(plain) is not None and _CONTACT.search(plain) is not None)
        or _WIRE_CREDIT.match(plain) is not None
        or _is_caption(plain, words)
    )


def _is_newsletter_promo(plain: str) -> bool:
    """ "Sign up for our free daily newsletter …", or a newsletter box's own title."""
    if not _NEWSLETTER.search(plain):
        return False
    return _SIGN_UP.search(plain) is not None or _NEWSLETTER_TITLE.match(plain) is not None


def _is_caption(plain: str, words: int) -> bool:
    """A photo caption or credit: "… (credit: NASA)", "… views, photos © Agency, 2018"."""
    return _CAPTION_END.search(plain) is not None or ("©" in plain and words <= 30)


def _is_link_block(paragraph: str) -> bool:
    """A paragraph or list that is nothing but links (a "related stories" block)."""
    links = _MD_LINK.findall(paragraph)
    if not links:
        return False
    rest = _MD_LINK.sub("", paragraph)
    rest = re.sub(r"(?m)^\s*- ", "", rest)
    return len(_words(rest)) <= 2 * len(links) and len(_words(rest)) <= 6


def without_link_runs(paragraphs: list[str]) -> list[str]:
    """Drop runs of two or more link-only blocks, and link-only blocks ending the article."""
    flags = [_is_link_block(p) for p in paragraphs]
    drop = [False] * len(paragraphs)
    i = 0
    while i < len(paragraphs):
        if not flags[i]:
            i += 1
            continue
        j = i
        while j < len(paragraphs) and flags[j]:
            j += 1
        if j - i >= 2 or j == len(paragraphs) or "\n- " in paragraphs[i]:
            drop[i:j] = [True] * (j - i)
        i = j
    # a short label ("DON'T MISS", "Related:") left just above a dropped run goes with it
    for k in range(len(paragraphs) - 1):
        if (
            drop[k + 1]
            and not drop[k]
            and len(paragraphs[k].split()) <= 4
            and not paragraphs[k].endswith(".")
        ):
            drop[k] = True
    return [p for p, dropped in zip(paragraphs, drop, strict=True) if not dropped]


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())
