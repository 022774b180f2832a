"""Previewing digests: the preview file, `newsmon digest --preview`, Chromium screenshots.

The screenshot tests render the sample digest (alerts/preview.py) with headless Chromium at
phone (390 px) and desktop (1200 px) widths, light and dark, and look at the pixels. They FAIL
when Chromium is missing (CI installs Debian's `chromium`, see .ci/run); set
NEWSMON_SKIP_BROWSER=1 to skip them. The PNGs are kept in build/screenshots/ (CI artifacts).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat
from typer.testing import CliRunner

from alerts.preview import (
    BrowserMissing,
    find_chromium,
    measure,
    preview_path,
    render_preview,
    sample_digest,
    screenshot,
    write_preview,
)
from flows.cli import app
from tests.configfile import write_config

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "screenshots"
PHONE, DESKTOP = 390, 1200
CARD = 640  # the digest's max width (+2 px of border)


# --- the preview file and the CLI ------------------------------------------------------------


def test_render_preview_is_the_html_part():
    digest = sample_digest()
    html = render_preview(digest)
    assert html == digest.message.get_body(("html",)).get_content()
    assert html.startswith("<!DOCTYPE html>")


def test_preview_path_and_write(tmp_path):
    assert preview_path("russia-taliban") == Path("build/digest-russia-taliban.html")
    assert preview_path("a/b c", tmp_path) == tmp_path / "digest-a-b-c.html"
    path = write_preview("<p>ü</p>", tmp_path / "deep" / "x.html")
    assert path.read_text(encoding="utf-8") == "<p>ü</p>"


WIRE_TEXT = (
    "Russian Foreign Minister Sergei Lavrov met a Taliban delegation in Moscow on Monday to "
    "discuss trade and security on the Afghan border. Both sides agreed to meet again."
)


def test_cli_digest_preview_writes_the_html_and_records_nothing(tmp_path):
    runner = CliRunner()
    config = write_config(tmp_path, ["http://127.0.0.1:9/feed.xml"])
    source = tmp_path / "in.jsonl"
    record = {"url": "https://wire.example/a", "title": "Lavrov meets Taliban", "text": WIRE_TEXT}
    source.write_text(json.dumps(record) + "\n", encoding="utf-8")

    def invoke(*args: str) -> str:
        result = runner.invoke(app, ["--config", str(config), *args])
        assert result.exit_code == 0, result.output
        return result.output

    invoke("ingest", str(source))
    output = invoke("digest", "--preview", "--preview-dir", str(tmp_path / "previews"))
    path = tmp_path / "previews" / "digest-russia-taliban.html"
    assert output.strip() == str(path)
    html = path.read_text(encoding="utf-8")
    assert "Lavrov meets Taliban" in html and "https://wire.example/a" in html
    assert not (tmp_path / "outbox").exists()
    # Nothing was recorded: the digest is still to be sent.
    assert "would send digest of 1 article" in invoke("digest", "--dry-run")


# --- screenshots -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    if os.environ.get("NEWSMON_SKIP_BROWSER") == "1":
        pytest.skip("NEWSMON_SKIP_BROWSER=1")
    try:
        return find_chromium()
    except BrowserMissing as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def sample_html() -> str:
    return render_preview(sample_digest())


def _background(image: Image.Image) -> tuple[int, ...]:
    """The page background: the colour of the top-left pixel (the margin above the card)."""
    return image.getpixel((0, 0))


def _content_box(image: Image.Image) -> tuple[int, int, int, int]:
    """The bounding box of everything that is not page background."""
    flat = Image.new(image.mode, image.size, _background(image))
    diff = ImageChops.difference(image, flat).convert("L").point(lambda v: 255 if v > 8 else 0)
    box = diff.getbbox()
    assert box is not None, "the screenshot is blank"
    return box


def _ink(image: Image.Image) -> float:
    """The share of pixels that are neither the page nor the card background (text, rules)."""
    colours = image.getcolors(maxcolors=image.width * image.height)
    colours.sort(reverse=True)
    common = {c for _, c in colours[:2]}
    inked = sum(n for n, c in colours if c not in common)
    return inked / (image.width * image.height)


def _luminance(image: Image.Image) -> float:
    return ImageStat.Stat(image.convert("L")).mean[0]


@pytest.fixture(scope="module")
def shots(chromium, sample_html) -> dict[tuple[int, bool], tuple[Path, int, int]]:
    """{(width, dark): (png, page scrollWidth, page scrollHeight)} for phone and desktop."""
    found = {}
    for width in (PHONE, DESKTOP):
        size = measure(sample_html, width)
        for dark in (False, True):
            name = f"digest-{'phone' if width == PHONE else 'desktop'}{'-dark' if dark else ''}"
            png = screenshot(sample_html, SHOTS / f"{name}.png", width, size.height, dark=dark)
            found[width, dark] = (png, size.width, size.height)
    (SHOTS / "digest-sample.html").write_text(sample_html, encoding="utf-8")
    return found


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
@pytest.mark.parametrize("dark", [False, True])
def test_screenshot_has_the_size_and_is_not_blank(shots, width, dark):
    png, _, height = shots[width, dark]
    with Image.open(png) as image:
        image = image.convert("RGB")
    assert image.size == (width, height)
    assert height > 1000  # the whole sample digest, several stories long
    assert _ink(image) > 0.02, "too few text pixels"
    assert len(image.getcolors(maxcolors=1 << 20)) > 100  # anti-aliased text, not flat boxes
    _, top, _, bottom = _content_box(image)
    assert bottom - top > height * 0.8


def test_no_horizontal_overflow_on_a_phone(shots):
    png, scroll_width, _ = shots[PHONE, False]
    assert scroll_width <= PHONE, f"the page is {scroll_width} px wide in a {PHONE} px viewport"
    with Image.open(png) as image:
        image = image.convert("RGB")
    left, _, right, _ = _content_box(image)
    # Fluid: the card fills the phone's width but for a small margin on both sides.
    assert 0 < left <= 12 and PHONE - 12 <= right < PHONE
    right_edge = image.crop((PHONE - 3, 0, PHONE, image.height))
    assert right_edge.getcolors() == [(3 * image.height, _background(image))]


def test_the_card_is_640_px_wide_and_centred_on_a_desktop(shots):
    png, scroll_width, _ = shots[DESKTOP, False]
    assert scroll_width <= DESKTOP
    with Image.open(png) as image:
        image = image.convert("RGB")
    left, _, right, _ = _content_box(image)
    assert CARD <= right - left <= CARD + 2
    assert abs(left - (DESKTOP - right)) <= 2


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_dark_mode_differs_and_is_dark(shots, width):
    with Image.open(shots[width, False][0]) as light, Image.open(shots[width, True][0]) as dark:
        light, dark = light.convert("RGB"), dark.convert("RGB")
    assert light.size == dark.size
    assert ImageChops.difference(light, dark).getbbox() is not None
    assert _luminance(light) > 200 and _luminance(dark) < 60
    # Same layout in both schemes: the card has the same box.
    assert _content_box(light)[::2] == _content_box(dark)[::2]


def test_the_committed_desktop_screenshot_is_the_sample():
    """docs/digest-desktop.png: `python -m alerts.preview --screenshot docs/digest-desktop.png`."""
    with Image.open(ROOT / "docs" / "digest-desktop.png") as image:
        assert image.width == DESKTOP and image.height > 1000


def test_the_overflow_check_sees_a_too_wide_page(chromium, sample_html):
    """The negative control: the measure is of a real 390 px viewport (headless Chromium
    would otherwise lay out at least 500 px wide and crop)."""
    wide = sample_html.replace("</body>", '<div style="width:600px">x</div></body>', 1)
    assert measure(wide, PHONE).width >= 600
    assert measure(sample_html, PHONE).width == PHONE
