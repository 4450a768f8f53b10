"""Parsing fetched bytes into items: formats, text cleaning, dates, encodings, hostile input.

Every fixture is written here, by hand; the real-world check at the end reads the local folder
of captured feeds (never copied into the project) and is skipped when it is absent.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tensiond.exceptions import ParseError
from tensiond.feeds.parse import SUMMARY_LIMIT, TITLE_LIMIT, ParsedFeed, clean_text, parse_feed
from tests.feedserver import FeedServer

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FEED_URL = "https://news.example/world/rss.xml"


def parse(content: bytes | str, headers: dict[str, str] | None = None) -> ParsedFeed:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return parse_feed(data, headers or {}, FEED_URL, "Example World", NOW)


def rss(items: str, prolog: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return f"""{prolog}
<rss version="2.0"><channel><title>Example World</title><link>https://news.example/</link>
{items}
</channel></rss>"""


RSS2 = rss("""
<item>
  <title>Troops mass near the border</title>
  <link>https://news.example/world/troops?utm_source=rss</link>
  <guid isPermaLink="false">ex-2026-0301-17</guid>
  <pubDate>Sun, 01 Mar 2026 09:30:00 +0100</pubDate>
  <description>&lt;p&gt;Satellite images show &lt;b&gt;armour&lt;/b&gt; moving.&lt;/p&gt;
  </description>
</item>
<item>
  <title>Summit ends with a joint statement</title>
  <link>https://news.example/world/summit</link>
  <pubDate>Sun, 01 Mar 2026 08:00:00 GMT</pubDate>
</item>""")

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="html">Example &amp;amp; Co</title>
  <id>tag:news.example,2026:feed</id>
  <updated>2026-03-01T10:00:00Z</updated>
  <entry>
    <id>tag:news.example,2026:entry-1</id>
    <title>Ceasefire holds for a second day</title>
    <link rel="alternate" href="/world/ceasefire"/>
    <updated>2026-03-01T10:00:00Z</updated>
    <content type="html">&lt;p&gt;Both sides report &lt;i&gt;calm&lt;/i&gt;.&lt;/p&gt;</content>
  </entry>
</feed>"""

RDF = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://news.example/"><title>RDF World</title>
    <link>https://news.example/</link><description>d</description></channel>
  <item rdf:about="https://news.example/rdf/1">
    <title>Parliament debates sanctions</title>
    <link>https://news.example/rdf/1</link>
    <description>A vote is expected.</description>
    <dc:date>2026-02-28T18:00:00+00:00</dc:date>
  </item>
</rdf:RDF>"""


def test_rss2() -> None:
    parsed = parse(RSS2)
    first, second = parsed.items
    assert parsed.title == "Example World" and parsed.bozo is None
    assert first.title == "Troops mass near the border"
    assert first.summary == "Satellite images show armour moving."
    assert first.link == "https://news.example/world/troops?utm_source=rss"
    assert first.published == datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    assert first.id.startswith("guid:") and first.seen_at == NOW
    assert (first.feed_url, first.feed_name) == (FEED_URL, "Example World")
    assert second.id == "https://news.example/world/summit" and second.summary == ""


def test_atom_with_relative_link_and_only_updated() -> None:
    parsed = parse(ATOM)
    [entry] = parsed.items
    assert parsed.title == "Example & Co"
    assert entry.link == "https://news.example/world/ceasefire"
    assert entry.summary == "Both sides report calm."
    assert entry.published == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert entry.id.startswith("guid:")


def test_rss1_rdf() -> None:
    [item] = parse(RDF).items
    assert item.title == "Parliament debates sanctions"
    assert item.id == "https://news.example/rdf/1"
    assert item.published == datetime(2026, 2, 28, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        pytest.param("AT&amp;T &#8217;s &quot;deal&quot;", 'AT&T ’s "deal"', id="entities"),
        pytest.param("&lt;b&gt;Bold&lt;/b&gt; claim", "Bold claim", id="escaped-html"),
        pytest.param("<![CDATA[<em>Shelling</em> resumes]]>", "Shelling resumes", id="cdata"),
        pytest.param("  Many\n\t spaces   here ", "Many spaces here", id="whitespace"),
        pytest.param("x &lt; y and y &gt; z", "x < y and y > z", id="plain-comparison"),
    ],
)
def test_title_text_is_cleaned(title: str, expected: str) -> None:
    [item] = parse(rss(f"<item><title>{title}</title></item>")).items
    assert item.title == expected


def test_html_summary_drops_markup_scripts_and_styles() -> None:
    summary = (
        "<![CDATA[<style>p{color:red}</style><p>Talks<br/>resumed</p><script>alert(1)</script>"
        "<ul><li>one</li><li>two</li></ul><img src=x onerror=alert(1)>]]>"
    )
    [item] = parse(rss(f"<item><title>T</title><description>{summary}</description></item>")).items
    assert item.summary == "Talks resumed one two"


def test_lengths_are_capped() -> None:
    item_xml = f"<item><title>{'word ' * 300}</title><description>{'x' * 9000}</description></item>"
    [item] = parse(rss(item_xml)).items
    assert len(item.title) == TITLE_LIMIT and item.title.endswith("…")
    assert len(item.summary) == SUMMARY_LIMIT


@pytest.mark.parametrize(
    ("date_xml", "expected"),
    [
        pytest.param("", None, id="missing"),
        pytest.param("<pubDate>not a date</pubDate>", None, id="garbage"),
        pytest.param("<pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate>", None, id="epoch"),
        pytest.param("<pubDate>Wed, 04 Mar 2026 12:00:00 GMT</pubDate>", None, id="far-future"),
        pytest.param(
            "<pubDate>Sun, 01 Mar 2026 20:00:00 GMT</pubDate>",
            datetime(2026, 3, 1, 20, 0, tzinfo=UTC),
            id="hours-ahead-tolerated",
        ),
        pytest.param(
            "<pubDate>Sun, 01 Mar 2026 07:00:00 -0500</pubDate>",
            datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
            id="offset-to-utc",
        ),
        pytest.param(
            "<pubDate>Qua, 04 Fev 2026 10:15:00 -0300</pubDate>",
            datetime(2026, 2, 4, 13, 15, tzinfo=UTC),
            id="portuguese-month",
        ),
        pytest.param(
            "<pubDate>mar., 03 févr. 2026 10:00:00 +0100</pubDate>",
            datetime(2026, 2, 3, 9, 0, tzinfo=UTC),
            id="french-month",
        ),
        pytest.param(
            "<pubDate>So, 01 Mär 2026 08:00 +0100</pubDate>",
            datetime(2026, 3, 1, 7, 0, tzinfo=UTC),
            id="german-month-no-seconds",
        ),
        pytest.param(
            "<pubDate>Sa, 14 Juil 2025 08:00:00</pubDate>",
            datetime(2025, 7, 14, 8, 0, tzinfo=UTC),
            id="french-july-no-zone",
        ),
    ],
)
def test_dates(date_xml: str, expected: datetime | None) -> None:
    [item] = parse(rss(f"<item><title>T</title>{date_xml}</item>")).items
    assert item.published == expected


def test_duplicate_guids_keep_the_first_item_and_empty_items_are_skipped() -> None:
    items = """
    <item><title>First</title><guid>https://news.example/a</guid></item>
    <item><title>Second copy</title><guid>https://news.example/a?utm_medium=x</guid></item>
    <item><link>https://news.example/empty</link></item>
    <item><description>Summary only</description></item>"""
    parsed = parse(rss(items))
    assert [item.title for item in parsed.items] == ["First", ""]
    assert parsed.items[1].summary == "Summary only"


@pytest.mark.parametrize(
    "link",
    ["javascript:alert(1)", "data:text/html,x", "file:///etc/passwd", "  "],
)
def test_only_http_links_are_kept(link: str) -> None:
    [item] = parse(rss(f"<item><title>T</title><link>{link}</link></item>")).items
    assert item.link is None


def test_empty_valid_feed_has_no_items() -> None:
    parsed = parse(rss(""))
    assert parsed == ParsedFeed(title="Example World", items=(), bozo=None)


def test_malformed_feed_with_entries_keeps_them_with_a_bozo_note() -> None:
    truncated = rss("<item><title>Kept</title></item>").split("</channel>")[0]
    truncated += "<item><title>Cut off mid"
    parsed = parse(truncated)
    assert "Kept" in [item.title for item in parsed.items]
    assert parsed.bozo and len(parsed.bozo) <= 200


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"  \n ", id="whitespace"),
        pytest.param(b'<?xml version="1.0"?><rss version="2.0"><chan', id="truncated-no-items"),
        pytest.param(b"/etc/passwd", id="a-file-name-is-not-opened"),
        pytest.param(
            b"<!DOCTYPE html><html><head><title>Welcome</title></head>"
            b"<body><h1>Not a feed</h1><a href='/rss'>RSS</a></body></html>",
            id="html-page",
        ),
        pytest.param(
            b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml">'
            b"<head><title>t</title></head><body><p>x</p></body></html>",
            id="well-formed-xhtml",
        ),
        pytest.param(b"\x00\x01\x02 binary \xff\xfe junk", id="binary"),
    ],
)
def test_not_a_feed_is_a_parse_error(content: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        parse(content)
    assert caught.value.url == FEED_URL
    assert "root:" not in str(caught.value)


def test_latin1_without_declaration_is_readable() -> None:
    body = rss("<item><title>Ação em São Paulo</title></item>", prolog="")
    [item] = parse(body.encode("latin-1")).items
    assert item.title == "Ação em São Paulo"


def test_charset_from_the_content_type_header() -> None:
    body = rss("<item><title>Künstler in Köln</title></item>", prolog="")
    headers = {"Content-Type": "application/rss+xml; charset=iso-8859-1"}
    [item] = parse(body.encode("latin-1"), headers).items
    assert item.title == "Künstler in Köln"


def test_gb2312() -> None:
    body = rss(
        "<item><title>中国新闻网报道</title></item>", '<?xml version="1.0" encoding="gb2312"?>'
    )
    [item] = parse(body.encode("gb2312")).items
    assert item.title == "中国新闻网报道"


def test_utf16_with_bom() -> None:
    body = rss("<item><title>Évènement</title></item>", '<?xml version="1.0" encoding="utf-16"?>')
    [item] = parse(body.encode("utf-16")).items
    assert item.title == "Évènement"


def test_harmless_entity_declarations_still_work() -> None:
    prolog = '<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY nbsp "&#160;"><!ENTITY org "UN">]>'
    parsed = parse(rss("<item><title>The&nbsp;&org; vote</title></item>", prolog))
    assert parsed.items[0].title == "The UN vote" and parsed.bozo is None


def test_netscape_rss091_with_html_entities() -> None:
    prolog = (
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE rss PUBLIC '
        '"-//Netscape Communications//DTD RSS 0.91//EN" '
        '"http://my.netscape.com/publish/formats/rss-0.91.dtd">'
    )
    body = rss("<item><title>Caf&eacute; talks&nbsp;end</title></item>", prolog)
    [item] = parse(body.replace('version="2.0"', 'version="0.91"')).items
    assert item.title == "Café talks end"


# Hostile input: each must parse or fail as bozo within 2 s, fetch nothing, leak nothing.

LOLS = "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">\n' for n in range(2, 10))
BILLION_LAUGHS = f'<!DOCTYPE rss [\n<!ENTITY lol1 "lol">\n{LOLS}]>'
BLOB = "A" * 50_000
QUADRATIC = f'<!DOCTYPE rss [\n<!ENTITY a "{BLOB}">\n]>'
QUADRATIC_IN_COMMENT = f'<!DOCTYPE rss>\n<!--\n<!ENTITY a "{BLOB}">\n-->'
QUADRATIC_STRAY_BRACKET = f'<!DOCTYPE rss [ ]\n<!ENTITY a "{BLOB}">\n]>'
PASSWD = '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


@pytest.mark.parametrize(
    ("prolog", "reference"),
    [
        pytest.param(BILLION_LAUGHS, "&lol9;", id="billion-laughs"),
        pytest.param(QUADRATIC, "&a;" * 50_000, id="quadratic-blowup"),
        pytest.param(QUADRATIC_IN_COMMENT, "&a;" * 50_000, id="quadratic-entity-in-comment"),
        pytest.param(QUADRATIC_STRAY_BRACKET, "&a;" * 50_000, id="quadratic-after-stray-bracket"),
        pytest.param(PASSWD, "&xxe;", id="external-entity-file"),
    ],
)
def test_entity_attacks_are_defused(prolog: str, reference: str) -> None:
    body = rss(f"<item><title>Attack</title><description>{reference}</description></item>", prolog)
    started = time.monotonic()
    try:
        parsed: ParsedFeed | None = parse(body)
    except ParseError:
        parsed = None
    assert time.monotonic() - started < 2
    text = "" if parsed is None else " ".join(i.title + i.summary for i in parsed.items)
    assert "lollol" not in text and BLOB[:100] not in text and "root:" not in text


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def test_external_entities_to_loopback_fetch_nothing(server: FeedServer) -> None:
    target = server.url("/secret")
    prologs = [
        f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{target}">]>',
        f'<!DOCTYPE rss [<!ENTITY % remote SYSTEM "{target}"> %remote;]>',
        f'<!DOCTYPE rss SYSTEM "{target}">',
        f'<?xml-stylesheet href="{target}"?>\n<!DOCTYPE rss PUBLIC "-//X//EN" "{target}">',
    ]
    for prolog in prologs:
        body = rss("<item><title>x&xxe;</title><description>d</description></item>", prolog)
        for content in (body.encode("utf-8"), body.encode("utf-16")):
            with contextlib.suppress(ParseError):
                parse(content)
    time.sleep(0.1)
    assert server.seen == []


def test_utf16_attack_is_defused_too() -> None:
    item = f"<item><title>T</title><description>{'&a;' * 50_000}</description></item>"
    body = rss(item, '<?xml version="1.0" encoding="utf-16"?>\n' + QUADRATIC)
    started = time.monotonic()
    parsed = parse(body.encode("utf-16"))
    assert time.monotonic() - started < 2
    assert BLOB[:100] not in parsed.items[0].summary


@given(st.text(), st.integers(1, 300))
def test_clean_text_is_bounded_and_trimmed(raw: str, limit: int) -> None:
    text = clean_text(raw, limit)
    assert len(text) <= limit and text == text.strip()
    assert "  " not in text


def shared_feeds() -> list[Path]:
    configured = os.environ.get("TENSIOND_SHARED_FEEDS")
    folder = (
        Path(configured) if configured else Path(__file__).resolve().parents[3] / "shared/feeds"
    )
    return sorted(folder.glob("*.xml")) if folder.is_dir() else []


@pytest.mark.skipif(not shared_feeds(), reason="no shared feed folder on this machine")
@pytest.mark.parametrize("path", shared_feeds(), ids=lambda path: path.name)
def test_real_feeds_parse_or_fail_as_parse_error(path: Path) -> None:
    try:
        parsed = parse(path.read_bytes())
    except ParseError:
        return
    assert all(item.title or item.summary for item in parsed.items)
    assert len({item.id for item in parsed.items}) == len(parsed.items)
