"""Previewing digests: the HTML part as a file, a realistic sample, screenshots with Chromium.

`render_preview(digest)` is the HTML that would be sent; `write_preview` puts it in a file
(`newsmon digest --preview` writes `build/digest-<watch>.html`). `sample_digest()` is a fixed,
realistic digest (stories with several sources, an update, single articles, a long headline,
non-ASCII text, footer notes) for tests and for `docs/digest-desktop.png`, which

    .venv/bin/python -m alerts.preview --screenshot docs/digest-desktop.png --width 1200

regenerates (headless Chromium; the image depends on the installed fonts).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerts.digest import Digest, DigestItem, compose_digest

PREVIEW_FOLDER = Path("build")
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def render_preview(digest: Digest) -> str:
    """The HTML part of the digest, exactly as it would be sent."""
    return digest.html


def preview_path(watch: str, folder: Path = PREVIEW_FOLDER) -> Path:
    """`build/digest-<watch>.html`, the watch name made safe for a file name."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", watch).strip("-.") or "watch"
    return folder / f"digest-{name}.html"


def write_preview(html: str, path: Path) -> Path:
    """Write the HTML (UTF-8), creating the folder; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path


# --- a realistic sample ----------------------------------------------------------------------

SAMPLE_NOW = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
SAMPLE_SENDER = "newsmon <alerts@news.example.org>"


def sample_items() -> list[DigestItem]:
    """Three stories (one an update of a story sent before) and four single articles."""
    day = datetime(2026, 11, 22, tzinfo=UTC)

    def item(n: int, title: str, site: str | None, hours: float, **kwargs) -> DigestItem:
        host = re.sub(r"[^a-z0-9]+", "-", (site or "").lower()).strip("-")
        values = {
            "article_id": n,
            "title": title,
            "url": f"https://{host or 'news'}.example/2026/11/{n}",
            "site": site,
            "published": day + timedelta(hours=hours),
            "excerpt": "",
            "matched": ("Russia", "Taliban"),
        }
        values.update(kwargs)
        return DigestItem(**values)

    kazan = (
        "Russia hosted a Taliban delegation in Kazan on Friday for talks on trade, security "
        "and aid, the first such meeting since Moscow lifted its ban on the movement. "
        "Foreign Minister Sergei Lavrov said Russia would keep “pragmatic” ties with Kabul. "
        "No Western envoys attended."
    )
    return [
        item(
            101,
            "Russia and the Taliban sign trade and security memorandum in Kazan",
            "Reuters",
            9.25,
            story_id=1,
            excerpt=kazan,
            matched=("Russia", "Taliban", "Lavrov"),
        ),
        item(
            102,
            "Лавров: Россия продолжит диалог с талибами",
            "ТАСС",
            10.5,
            story_id=1,
            url="https://tass.example/politics/2026/11/102",
            matched=("Taliban", "Lavrov"),
        ),
        item(
            103, "Kazan talks: what Moscow wants from Kabul’s rulers", "Al Jazeera", 13, story_id=1
        ),
        item(
            104,
            "Taliban delegation courts Russian investors at Kazan forum",
            "Deutsche Welle",
            15.75,
            story_id=1,
        ),
        item(
            105,
            "Moscow deepens engagement with Afghanistan’s Taliban government",
            None,
            17.5,
            story_id=1,
            url="https://www.theguardian.example/world/2026/nov/22/moscow",
        ),
        item(
            201,
            "Wheat for Kabul: Russia ships 200,000 tonnes through Turkmenistan",
            "Kommersant",
            -20,
            story_id=2,
            previously_delivered=True,
            excerpt="The first trains carrying Russian wheat under the new agreement crossed "
            "into Afghanistan at Torghundi. The shipments are paid for partly in "
            "dried fruit and cotton, officials in Kabul said.",
        ),
        item(202, "Russian grain arrives in Herat as aid cuts bite", "Tolo News", 8, story_id=2),
        item(
            203,
            "Afghanistan–Russia grain deal: second convoy crosses the border",
            "Interfax",
            11.2,
            story_id=2,
        ),
        item(204, "Grain convoy reaches Mazar-i-Sharif", "Pajhwok", 12.4, story_id=2),
        item(
            301,
            "Central Asian states warn of militant spillover as Moscow and Kabul "
            "draw closer — a long read on the Fergana valley, Tajik border posts "
            "and the Collective Security Treaty Organization’s exercises",
            "Eurasianet",
            6,
            story_id=3,
            excerpt="Officials in Dushanbe and Tashkent say they were not consulted before "
            "the Kazan meeting. Border guards report more crossings.",
        ),
        item(302, "CSTO drills near Afghan border", "RFE/RL", 14, story_id=3, matched=("Russia",)),
        item(
            401,
            "Zürich conference hears Afghan women’s rights activists",
            "NZZ",
            16,
            matched=("Taliban",),
        ),
        item(
            402,
            "Opinion: Russia’s Afghan gamble",
            "The Moscow Times",
            0,
            matched=("Russia", "Taliban"),
        ),
        item(
            403,
            "Kabul airport contract: Russian firm in the running",
            "Khaama Press",
            19.5,
            matched=("Russia",),
        ),
    ]


def sample_digest(now: datetime = SAMPLE_NOW) -> Digest:
    """The sample digest of the watch "russia-taliban"."""
    return compose_digest(
        "russia-taliban",
        sample_items(),
        sender=SAMPLE_SENDER,
        recipients=("analyst@example.com",),
        now=now,
        footer_notes=(
            "Feed https://www.pajhwok.example/rss.xml is failing: HTTP 503 (3 polls in a row)",
            "2 articles of tolonews.example could not be extracted: no article text found",
        ),
    )


# --- screenshots -----------------------------------------------------------------------------


class BrowserMissing(RuntimeError):
    pass


def find_chromium() -> str:
    """$NEWSMON_CHROMIUM, else the first Chromium/Chrome on PATH; BrowserMissing if none."""
    configured = os.environ.get("NEWSMON_CHROMIUM")
    for name in (configured,) if configured else BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserMissing(
        "no Chromium found (apt-get install chromium, or set NEWSMON_CHROMIUM); "
        "set NEWSMON_SKIP_BROWSER=1 to skip the browser tests"
    )


def _chromium(args: list[str], *, width: int, height: int, dark: bool, timeout: float) -> str:
    with tempfile.TemporaryDirectory(prefix="newsmon-chromium-") as profile:
        command = [
            find_chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--allow-file-access-from-files",  # the framing page reads the digest's size
            f"--user-data-dir={profile}",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--window-size={width},{height}",
            # Capture only once the page has settled and every compositor stage has drawn: a
            # screenshot taken on the load event was, once in CI, a partly drawn frame.
            "--run-all-compositor-stages-before-draw",
            "--virtual-time-budget=2000",
            *(["--force-dark-mode", "--blink-settings=preferredColorScheme=0"] if dark else []),
            *args,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


# Headless Chromium lays a page out at least 500 px wide, whatever --window-size says (it then
# crops the screenshot), so the digest goes in an iframe of exactly the width asked for: its
# viewport is then that wide, its media queries see that width, and the screenshot shows it.
_FRAME = """<!DOCTYPE html>
<html><head><meta charset="utf-8"></head>
<body style="margin:0; padding:0; overflow:hidden;">
<iframe id="digest" src="digest.html" width="{width}" height="{height}" scrolling="no"
 style="display:block; border:0; width:{width}px; height:{height}px;"></iframe>
{script}</body></html>
"""
_MEASURE = (
    "<script>addEventListener('load', function () {"
    "var d = document.getElementById('digest').contentDocument.documentElement;"
    "document.body.setAttribute('data-newsmon-size', d.scrollWidth + 'x' + d.scrollHeight);"
    "});</script>"
)


def _framed(folder: str, html: str, width: int, height: int, script: str = "") -> str:
    """Write the digest and a page framing it at width × height; the page's file URL."""
    Path(folder, "digest.html").write_text(html, encoding="utf-8")
    frame = Path(folder, "frame.html")
    frame.write_text(_FRAME.format(width=width, height=height, script=script), encoding="utf-8")
    return frame.as_uri()


@dataclass(frozen=True)
class PageSize:
    width: int  # document.documentElement.scrollWidth
    height: int  # document.documentElement.scrollHeight


def measure(html: str, width: int, *, timeout: float = 60) -> PageSize:
    """The laid-out size of the page in a viewport exactly `width` px wide."""
    with tempfile.TemporaryDirectory(prefix="newsmon-measure-") as folder:
        page = _framed(folder, html, width, 100, _MEASURE)
        dom = _chromium(["--dump-dom", page], width=width, height=800, dark=False, timeout=timeout)
    found = re.search(r'data-newsmon-size="(\d+)x(\d+)"', dom)
    if not found:
        raise RuntimeError("the page did not report its size")
    return PageSize(int(found.group(1)), int(found.group(2)))


def screenshot(
    html: str,
    png: Path,
    width: int,
    height: int | None = None,
    *,
    dark: bool = False,
    timeout: float = 60,
) -> Path:
    """A PNG of the HTML at `width` px (height: the whole page, measured, unless given)."""
    if height is None:
        height = min(max(measure(html, width, timeout=timeout).height, 200), 16000)
    png = png.resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="newsmon-shot-") as folder:
        page = _framed(folder, html, width, height)
        png.unlink(missing_ok=True)
        _chromium(
            [f"--screenshot={png}", page], width=width, height=height, dark=dark, timeout=timeout
        )
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot to {png}")
    return png


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Render the sample digest (and screenshot it).")
    parser.add_argument("--html", type=Path, default=PREVIEW_FOLDER / "digest-sample.html")
    parser.add_argument("--screenshot", type=Path, help="also write a PNG here")
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--dark", action="store_true", help="dark colour scheme")
    args = parser.parse_args(argv)
    html = render_preview(sample_digest())
    print(write_preview(html, args.html))
    if args.screenshot:
        print(screenshot(html, args.screenshot, args.width, dark=args.dark))


if __name__ == "__main__":
    main()
