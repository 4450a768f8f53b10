"""`tensiond replay`: one story in five outlets over a simulated hour is one message, updated.

The snapshots are written here by the team: five outlets' feeds, each captured several times in
one simulated hour. One of them, then the others, report one North Korean missile launch in their
own words; around it run stories that must not page anyone (markets, football, weather, a summit
plan, a retrospective). The replay delivers to a Slack-compatible server on loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
import yaml

from tests.e2e.daemon import TOKEN_ENV
from tests.slackserver import SlackServer

pytestmark = pytest.mark.slow

START = datetime(2026, 10, 14, 5, 0, tzinfo=UTC)

# (minutes after START it was published, title, summary)
BACKGROUND = {
    "yonhap": [
        (
            -90,
            "Samsung Electronics shares rise 3 percent on chip demand outlook",
            "Shares of the world's largest memory maker climbed in early trade after analysts "
            "raised their forecasts for the fourth quarter.",
        ),
        (
            -60,
            "Heavy rain warning issued for Jeju as typhoon approaches",
            "The weather agency said up to 200 millimetres of rain could fall on the island.",
        ),
    ],
    "nhk": [
        (-80, "Nikkei average ends higher as exporters gain on weaker yen", ""),
        (
            -40,
            "Japan, South Korea foreign ministers to meet in Tokyo next month",
            "The two ministers are expected to discuss economic cooperation and youth exchanges.",
        ),
    ],
    "bbc": [
        (
            -120,
            "Late strike sends Tottenham into the Champions League last 16",
            "A rocket of a shot in stoppage time settled a tense night in north London.",
        ),
        (
            -50,
            "Seventy years on: remembering the armistice that froze the Korean War",
            "Veterans gathered to mark the anniversary of the 1953 agreement.",
        ),
    ],
    "guardian": [
        (-100, "European shares slip as investors await central bank decision", ""),
    ],
    "dw": [
        (
            -70,
            "German carmakers report slower electric vehicle sales",
            "Industry figures showed registrations fell for a second month.",
        ),
    ],
}
STORY = {  # outlet: (minutes after START it appears, title, summary)
    "yonhap": (2, "(LEAD) N. Korea fires ballistic missile into East Sea: JCS",
               "North Korea fired an unidentified ballistic missile into the East Sea on "
               "Wednesday morning, South Korea's Joint Chiefs of Staff said, its first launch in "
               "two months."),
    "nhk": (7, "North Korea launches ballistic missile, Japan's defense ministry says",
            "Japan's Defense Ministry says North Korea has launched what appears to be a "
            "ballistic missile. It is believed to have fallen outside Japan's exclusive economic "
            "zone."),
    "bbc": (19, "North Korea fires ballistic missile off its east coast",
            "Pyongyang launched the missile early on Wednesday, South Korea's military said, "
            "days after Seoul and Washington wrapped up joint drills."),
    "guardian": (33, "North Korea test-fires ballistic missile as tensions with Seoul rise",
                 "The launch, detected by South Korea's military, is the latest in a string of "
                 "weapons tests by Pyongyang this year."),
    "dw": (48, "North Korea launches missile toward sea off east coast",
           "South Korea and Japan reported the launch of a ballistic missile by North Korea on "
           "Wednesday. Tokyo said it landed outside its exclusive economic zone."),
}  # fmt: skip
HOSTS = {
    "yonhap": "en.yna.co.kr",
    "nhk": "www3.nhk.or.jp",
    "bbc": "www.bbc.co.uk",
    "guardian": "www.theguardian.com",
    "dw": "www.dw.com",
}
CAPTURES = (0, 10, 20, 30, 40, 50, 60)  # minutes: every outlet captured every ten minutes


def rss(outlet: str, entries: list[tuple[int, str, str]]) -> str:
    items = []
    for number, (minute, title, summary) in enumerate(entries):
        published = format_datetime(START + timedelta(minutes=minute))
        link = f"https://{HOSTS[outlet]}/news/{outlet}-{minute + 500}-{number}"
        items.append(
            f"<item><title>{escape(title)}</title><link>{link}</link>"
            f"<guid>{link}</guid><pubDate>{published}</pubDate>"
            f"<description>{escape(summary)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{outlet}</title><link>https://{HOSTS[outlet]}/</link>"
        f"<description>{outlet} world news</description>{''.join(reversed(items))}"
        "</channel></rss>"
    )


def write_snapshots(directory: Path) -> None:
    rows = []
    for outlet, background in BACKGROUND.items():
        for capture in CAPTURES:
            entries = [entry for entry in background if entry[0] <= capture]
            if STORY[outlet][0] <= capture:
                entries.append(STORY[outlet])
            path = directory / outlet / f"{capture:02d}.xml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(rss(outlet, sorted(entries)))
            at = (START + timedelta(minutes=capture, seconds=20)).isoformat()
            rows.append({"feed": outlet, "at": at, "path": f"{outlet}/{capture:02d}.xml"})
    (directory / "manifest.jsonl").write_text("\n".join(json.dumps(row) for row in rows) + "\n")


def test_one_story_in_five_outlets_is_one_message_updated_to_five_sources(
    tmp_path: Path,
) -> None:
    snapshots = tmp_path / "snapshots"
    write_snapshots(snapshots)
    with SlackServer() as slack:
        config = tmp_path / "replay.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "state_dir": str(tmp_path / "state"),
                    "feeds": [
                        {"name": outlet, "url": f"https://{host}/rss.xml"}
                        for outlet, host in HOSTS.items()
                    ],
                    "slack": {"api_url": slack.url, "token_env": TOKEN_ENV},
                    "http": {"listen": ""},
                }
            )
        )
        result = subprocess.run(
            [sys.executable, "-m", "tensiond", "replay", str(snapshots), "--config", str(config)],
            env={**os.environ, TOKEN_ENV: "xoxb-replay"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        posts = slack.posts()
        updates = slack.posts("chat.update")
        titles = [post.body.get("text", "") for post in posts]
        assert len(posts) == 1, titles
        (post,) = posts
        assert "North Korea" in post.body["text"] or "N. Korea" in post.body["text"]
        assert post.body["channel"] == "#tension-alerts"
        assert 1 <= len(updates) <= 4  # group_interval (1m) coalesces the updates
        ts = updates[-1].body["ts"]
        final = slack.message("#tension-alerts", ts)
        blocks = json.dumps(final["blocks"])
        assert "5 sources" in blocks and "Confirmed" in blocks, blocks
        for host in ("yna.co.kr", "nhk.or.jp", "bbc.co.uk", "theguardian.com", "dw.com"):
            assert host in blocks
    assert "#tension-alerts: 1 post, " in result.stdout, result.stdout


def test_a_bad_manifest_is_reported_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "manifest.jsonl").write_text(
        '{"feed": "a", "at": "2026-10-14T05:00:00Z", "path": "missing.xml"}\n'
        "not json\n"
        '{"feed": "b", "at": "yesterday", "path": "../etc/passwd"}\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "tensiond", "replay", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "manifest.jsonl:1: no file 'missing.xml'" in result.stderr
    assert "manifest.jsonl:2:" in result.stderr and "manifest.jsonl:3:" in result.stderr
