"""OPML import/export and appending feeds to a commented feeds.yaml."""

from __future__ import annotations

import difflib
import logging
import os
import stat
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import opml
from bot.app.config import SAMPLE_CONFIG, ConfigError, FeedConfig, load_config, parse_config
from bot.app.opml import (
    ImportedFeeds,
    OpmlError,
    add_feeds_to_config_file,
    export_opml,
    folder_jurisdiction,
    import_opml,
    parse_opml,
)

REPO = Path(__file__).resolve().parents[2]


def _feed(name: str, url: str, **kw: object) -> FeedConfig:
    return FeedConfig.model_validate({"name": name, "url": url, **kw})


def _write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(data, bytes):
        p.write_bytes(data)
    else:
        p.write_text(data, encoding="utf-8")
    return p


# ----------------------------------------------------------------------------- export/import


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    cfg = parse_config(
        {
            "feeds": [
                {"name": "EU AI Act Newsletter", "url": "https://a.example/feed", "language": "en"},
                {
                    "name": "Ämter & <Behörden> \"quoted\" 'x'",
                    "url": "https://b.example/rss?x=1&y=2",
                    "language": "de",
                    "jurisdictions": ["DE", "EU"],
                    "interval": "2h",
                },
                {"name": "中国新闻网", "url": "https://c.example/china.xml", "language": "zh"},
                {"name": "Paused", "url": "https://d.example/feed", "enabled": False},
                {"name": "Ninety", "url": "https://e.example/feed", "interval": "90s"},
            ]
        },
        tmp_path / "feeds.yaml",
    )
    text = export_opml(cfg)
    back = import_opml(_write(tmp_path, "out.opml", text))
    assert [f.model_dump() for f in back] == [f.model_dump() for f in cfg.feeds]


def test_export_is_opml_2(tmp_path: Path) -> None:
    cfg = load_config(REPO / "feeds.yaml")
    text = export_opml(cfg)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(text)
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title")
    assert root.findtext("head/dateCreated")
    outlines = root.findall("body/outline")
    assert len(outlines) == len(cfg.feeds)
    for el, f in zip(outlines, cfg.feeds, strict=True):
        assert el.get("text") == f.name and el.get("title") == f.name
        assert el.get("xmlUrl") == f.url and el.get("type") == "rss"
        assert el.get("language") == f.language
    # The default list survives a round trip too.
    again = import_opml(_write(tmp_path, "default.opml", text))
    assert [(f.name, f.url, f.language, f.jurisdictions, f.interval) for f in again] == [
        (f.name, f.url, f.language, f.jurisdictions, f.interval) for f in cfg.feeds
    ]


def test_export_drops_characters_xml_cannot_hold(tmp_path: Path) -> None:
    cfg = parse_config(
        {"feeds": [{"name": "bell\x07 and\x1b escape", "url": "https://x.example/feed"}]},
        tmp_path / "f.yaml",
    )
    root = ET.fromstring(export_opml(cfg))  # would raise on a raw control character
    assert root.find("body/outline").get("text") == "bell and escape"  # type: ignore[union-attr]


def test_sample_config_exports(tmp_path: Path) -> None:
    cfg = load_config(SAMPLE_CONFIG)
    back = import_opml(_write(tmp_path, "s.opml", export_opml(cfg)))
    assert [f.url for f in back] == [f.url for f in cfg.feeds]


NESTED = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>My subscriptions</title></head>
  <body>
    <outline text="Policy">
      <outline text="EU">
        <outline text="AI Act newsletter" title="EU AI Act Newsletter" type="rss"
                 xmlUrl="https://artificialintelligenceact.substack.com/feed" language="en-US"/>
        <outline text="Deeper">
          <outline text="CNIL" xmlurl="https://www.cnil.fr/fr/rss.xml" language="fr"/>
        </outline>
      </outline>
      <outline text="News" type="rss" xmlUrl="https://one.example/feed" language="English"/>
    </outline>
    <outline text="Tech">
      <outline text="News" type="rss" xmlUrl="feed://two.example/rss"/>
      <outline text="Copy of the newsletter" type="rss"
               xmlUrl="https://ArtificialIntelligenceAct.substack.com/feed?utm_source=reader"/>
      <outline type="rss" xmlUrl="https://three.example/blog/feed/"/>
      <outline text="A web page, not a feed" type="link" url="https://example.com/"/>
    </outline>
  </body>
</opml>
"""


def test_nested_opml_gives_every_feed_once(tmp_path: Path) -> None:
    feeds = import_opml(_write(tmp_path, "nested.opml", NESTED))
    got = [(f.name, f.url, f.language) for f in feeds]
    assert got == [
        # title wins over text; the language tag is reduced to ISO 639-1
        ("EU AI Act Newsletter", "https://artificialintelligenceact.substack.com/feed", "en"),
        # three levels deep, with a lower-case xmlurl attribute
        ("CNIL", "https://www.cnil.fr/fr/rss.xml", "fr"),
        # "English" is not a language code: the hint is dropped, the feed kept
        ("News", "https://one.example/feed", None),
        # same name again: suffixed; feed:// means plain http
        ("News (2)", "http://two.example/rss", None),
        # the newsletter filed twice (host case, utm tag) is imported once
        # no title or text: named after the URL
        ("three.example/blog/feed", "https://three.example/blog/feed/", None),
    ]
    # The "EU" folder is a jurisdiction hint for everything inside it, however deep.
    assert [f.jurisdictions for f in feeds] == [["EU"], ["EU"], [], [], []]
    assert isinstance(feeds, ImportedFeeds)
    assert feeds.folders == {
        # filed twice: under Policy / EU, and (as the utm-tagged copy) under Tech
        "EU AI Act Newsletter": ["Policy / EU", "Tech"],
        "CNIL": ["Policy / EU / Deeper"],
        "News": ["Policy"],
        "News (2)": ["Tech"],
        "three.example/blog/feed": ["Tech"],
    }
    # The link outline is no feed: skipped, and said so.
    assert [(o.label, o.reason) for o in feeds.skipped] == [("A web page, not a feed", "link")]


def test_long_names_are_cut_and_still_unique(tmp_path: Path) -> None:
    long = "N" * 300
    doc = (
        '<opml version="2.0"><body>'
        f'<outline text="{long}" xmlUrl="https://a.example/1"/>'
        f'<outline text="{long}" xmlUrl="https://a.example/2"/>'
        "</body></opml>"
    )
    feeds = import_opml(_write(tmp_path, "long.opml", doc))
    assert len(feeds) == 2
    assert all(len(f.name) <= 120 for f in feeds)
    assert feeds[0].name != feeds[1].name and feeds[1].name.endswith(" (2)")


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE opml [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<opml version="2.0"><body>
  <outline text="&lol9;" xmlUrl="https://bomb.example/feed"/>
</body></opml>
"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline text="&secret;" xmlUrl="https://x.example/feed"/></body></opml>
"""


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "external-entity"])
def test_hostile_opml_is_refused(tmp_path: Path, doc: str) -> None:
    with pytest.raises(OpmlError) as info:
        import_opml(_write(tmp_path, "bomb.opml", doc))
    msg = str(info.value)
    assert "refused" in msg and "entities" in msg
    assert "root:" not in msg  # the secret file was never read


def test_harmless_doctype_is_accepted(tmp_path: Path) -> None:
    doc = '<!DOCTYPE opml><opml version="2.0"><body><outline text="A" xmlUrl="https://a.example/f"/></body></opml>'
    assert [f.name for f in import_opml(_write(tmp_path, "d.opml", doc))] == ["A"]


def test_deep_nesting_does_not_exhaust_the_stack(tmp_path: Path) -> None:
    depth = 3000
    doc = (
        '<opml version="2.0"><body>'
        + '<outline text="folder">' * depth
        + '<outline text="Deep" xmlUrl="https://deep.example/feed"/>'
        + "</outline>" * depth
        + "</body></opml>"
    )
    assert [f.name for f in import_opml(_write(tmp_path, "deep.opml", doc))] == ["Deep"]


def test_oversized_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(opml, "MAX_OPML_BYTES", 100)
    p = _write(tmp_path, "big.opml", NESTED)
    with pytest.raises(OpmlError, match="larger than"):
        import_opml(p)


@pytest.mark.parametrize(
    ("doc", "expect"),
    [
        (b"this is not xml", "not valid XML (line 1"),
        (b'<?xml version="1.0"?>\n<opml><body>\n<outline text="x"', "not valid XML (line 3"),
        (b'<rss version="2.0"><channel/></rss>', "not an OPML file: the document is <rss>"),
        (b'<opml version="2.0"><head/></opml>', "has no <body>"),
        (b'<opml version="2.0"><body><outline text="empty folder"/></body></opml>', "no feeds"),
    ],
)
def test_unusable_documents_get_clear_errors(tmp_path: Path, doc: bytes, expect: str) -> None:
    with pytest.raises(OpmlError) as info:
        import_opml(_write(tmp_path, "x.opml", doc))
    assert expect in str(info.value)


def test_bad_outlines_fail_the_import_listing_each(tmp_path: Path) -> None:
    doc = """<opml version="2.0"><body>
      <outline text="Fine" xmlUrl="https://fine.example/feed"/>
      <outline text="Script" xmlUrl="javascript:alert(1)"/>
      <outline text="Relative" xmlUrl="/feed.xml"/>
      <outline text="Typed but empty" type="rss" xmlUrl=""/>
    </body></opml>"""
    with pytest.raises(OpmlError) as info:
        import_opml(_write(tmp_path, "bad.opml", doc))
    msg = str(info.value)
    # A feed whose URL is unusable is a mistake to fix; an outline with no URL is skipped.
    assert "2 outline(s) cannot be imported" in msg and "nothing was added" in msg
    assert "'Script' (javascript:alert(1))" in msg
    assert "'Relative' (/feed.xml)" in msg
    assert "Typed but empty" not in msg
    # The lenient API reports the same and keeps the good one.
    result = parse_opml(doc.encode())
    assert [f.name for f in result.feeds] == ["Fine"] and len(result.problems) == 2
    assert [str(o) for o in result.skipped] == ["outline 'Typed but empty': no xmlUrl (feed URL)"]


URLLESS = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><body>
  <outline text="Good one" type="rss" xmlUrl="https://good.example/feed"/>
  <outline text="Reader lost the URL" title="Lost URL" type="rss"/>
  <outline text="Folder">
    <outline text="Inside, no URL" type="atom" xmlUrl="  "/>
    <outline text="Inside, fine" xmlUrl="https://inside.example/rss"/>
  </outline>
  <outline text="Empty folder"/>
  <outline text="Homepage" type="link" url="https://home.example/"/>
  <outline text="More feeds" type="include" url="https://home.example/more.opml"/>
  <outline type="rss"/>
</body></opml>
"""


def test_outlines_without_a_url_are_skipped_with_a_warning_naming_each(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _write(tmp_path, "urlless.opml", URLLESS)
    with caplog.at_level(logging.WARNING, logger="policybot.opml"):
        feeds = import_opml(path)
    # The file is not aborted: its feeds are imported.
    assert [f.name for f in feeds] == ["Good one", "Inside, fine"]
    assert isinstance(feeds, ImportedFeeds)
    assert [(o.label, o.reason) for o in feeds.skipped] == [
        ("Lost URL", "no-url"),  # named by its title, as the reader shows it
        ("Inside, no URL", "no-url"),  # a blank xmlUrl is no URL
        ("Empty folder", "no-url"),
        ("Homepage", "link"),
        ("More feeds", "include"),
        ("(untitled)", "no-url"),
    ]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for name in ("'Lost URL'", "'Inside, no URL'", "'Empty folder'", "'Homepage'", "'More feeds'"):
        assert any(name in w and str(path) in w for w in warnings), name
    # The last warning is the summary: how many, and why.
    summary = (
        "skipped 6 outline(s) that are not feeds: 4 without a feed URL (xmlUrl),"
        " 1 linking to a web page, not a feed, 1 including another OPML file"
    )
    assert warnings[-1] == f"{path}: {summary}"
    assert feeds.summary() == summary


def test_a_file_of_urlless_outlines_says_what_was_skipped(tmp_path: Path) -> None:
    doc = '<opml version="2.0"><body><outline text="Lost" type="rss"/></body></opml>'
    with pytest.raises(OpmlError) as info:
        import_opml(_write(tmp_path, "none.opml", doc))
    msg = str(info.value)
    assert "contains no feeds" in msg and "1 without a feed URL (xmlUrl)" in msg


FOLDERS = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><body>
  <outline text="Regulators">
    <outline title="EU" text="European Union">
      <outline text="EDPB" xmlUrl="https://edpb.example/feed"/>
      <outline text="Deutschland">
        <outline text="BfDI" xmlUrl="https://bfdi.example/feed"/>
        <outline text="Länder">
          <outline text="LfDI" xmlUrl="https://lfdi.example/feed" language="de"/>
        </outline>
      </outline>
    </outline>
    <outline text="🇨🇳 China:">
      <outline text="CAC watch" xmlUrl="https://cac.example/feed"/>
    </outline>
    <outline text="中国"><outline text="网信" xmlUrl="https://wangxin.example/feed"/></outline>
    <outline text="UK"><outline text="ICO" xmlUrl="https://ico.example/feed"/></outline>
  </outline>
  <outline text="AI">
    <outline text="IT">
      <outline text="Blog" xmlUrl="https://blog.example/feed"/>
    </outline>
  </outline>
  <outline text="EU policy news">
    <outline text="Newsletter" xmlUrl="https://letter.example/feed"/>
  </outline>
</body></opml>
"""


def test_nested_folders_become_paths_and_jurisdiction_hints(tmp_path: Path) -> None:
    feeds = import_opml(_write(tmp_path, "folders.opml", FOLDERS))
    got = {f.name: (f.jurisdictions, feeds.folders.get(f.name)) for f in feeds}
    assert got == {
        "EDPB": (["EU"], ["Regulators / EU"]),
        # nested folders: every folder that names a jurisdiction adds it, outermost first
        "BfDI": (["EU", "DE"], ["Regulators / EU / Deutschland"]),
        "LfDI": (["EU", "DE"], ["Regulators / EU / Deutschland / Länder"]),
        # emoji and punctuation around the name do not hide it; nor does another script
        "CAC watch": (["CN"], ["Regulators / 🇨🇳 China:"]),
        "网信": (["CN"], ["Regulators / 中国"]),
        "ICO": (["GB"], ["Regulators / UK"]),
        # "AI" is Anguilla's code and "IT" Italy's, but as folders they are topics
        "Blog": ([], ["AI / IT"]),
        # only a whole folder name counts
        "Newsletter": ([], ["EU policy news"]),
    }
    assert feeds.comments()["LfDI"] == "OPML folder: Regulators / EU / Deutschland / Länder"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("EU", "EU"),
        ("eu", "EU"),
        ("Europe", "EU"),
        ("Europa", "EU"),
        ("Europäische Union", "EU"),
        ("China", "CN"),
        ("PRC", "CN"),
        ("Deutschland", "DE"),
        ("Germany", "DE"),
        ("Österreich", "AT"),
        ("USA", "US"),
        ("United States", "US"),
        ("South Korea", "KR"),
        ("한국", "KR"),
        ("日本", "JP"),
        ("Italia", "IT"),
        ("International", "INTL"),
        ("G7", "INTL"),
        ("[UK]", "GB"),
        ("AI", None),
        ("IT", None),
        ("IN", None),
        ("CA", None),
        ("Asia", None),  # the resolver only suggests Austria: a guess is no hint
        ("Policy", None),
        ("News", None),
        ("", None),
        ("🇪🇺", None),
    ],
)
def test_folder_jurisdiction(name: str, code: str | None) -> None:
    assert folder_jurisdiction(name) == code


def test_same_feed_in_two_jurisdiction_folders_gets_both(tmp_path: Path) -> None:
    doc = """<opml version="2.0"><body>
      <outline text="EU"><outline text="Wire" xmlUrl="https://wire.example/feed"/></outline>
      <outline text="China"><outline text="Wire" xmlUrl="https://WIRE.example/feed"/></outline>
    </body></opml>"""
    feeds = import_opml(_write(tmp_path, "twice.opml", doc))
    assert [(f.name, f.jurisdictions) for f in feeds] == [("Wire", ["EU", "CN"])]
    assert feeds.comments() == {"Wire": "OPML folders: EU; China"}


def test_folder_hints_add_to_the_outlines_own(tmp_path: Path) -> None:
    doc = f"""<opml version="2.0" xmlns:policybot="{opml.POLICYBOT_NS}"><body>
      <outline text="EU"><outline text="Both" xmlUrl="https://both.example/feed"
          policybot:jurisdictions="DE,eu"/></outline>
    </body></opml>"""
    (feed,) = import_opml(_write(tmp_path, "own.opml", doc))
    assert feed.jurisdictions == ["DE", "EU"]  # the folder's EU is there once


def test_very_deep_folders_are_cut_in_the_comment(tmp_path: Path) -> None:
    doc = (
        '<opml version="2.0"><body>'
        + "".join(f'<outline text="level {i}">' for i in range(50))
        + '<outline text="China">'
        + '<outline text="Deep" xmlUrl="https://deep.example/feed"/>'
        + "</outline>" * 51
        + "</body></opml>"
    )
    (feed,) = feeds = import_opml(_write(tmp_path, "deep.opml", doc))
    assert feed.jurisdictions == ["CN"]  # every level counts for hints
    (path,) = feeds.folders["Deep"]
    assert path.startswith("level 0 / level 1 / ") and path.endswith(" / …")
    assert path.count(" / ") == 8


def test_opml_errors_are_value_errors_for_the_cli() -> None:
    assert issubclass(OpmlError, ValueError)


# ----------------------------------------------------------------------------- feeds.yaml


COMMENTED = """\
# My team's feeds.  Keep this comment!
defaults:
  interval: 30m   # default for every feed

feeds:
  # --- regulators ---
  - name: NIST news
    url: https://www.nist.gov/news-events/news/rss.xml
    interval: 1h  # slow page
  - name: EDPB
    url: https://www.edpb.europa.eu/feed/news_en   # EU
  # - name: Disabled for now
  #   url: https://old.example/feed

# Where stories go:
subscriptions:
  - name: console
    destination: {platform: console}   # inline comment
    mode: instant

classifier:
  threshold: 0.5  # tuned
"""


def _only_insertions(before: str, after: str) -> list[str]:
    """The lines `after` adds to `before`; fails if anything was changed or removed."""
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    added: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        assert op in ("equal", "insert"), f"{op}: {a[i1:i2]!r} -> {b[j1:j2]!r}"
        if op == "insert":
            added.extend(b[j1:j2])
    return added


NEW = [
    _feed("Tech Policy Press", "https://www.techpolicy.press/feed/", language="en"),
    _feed("nist NEWS", "https://other.example/nist"),  # same name as an existing feed
    _feed("NIST again", "https://WWW.NIST.GOV/news-events/news/rss.xml?utm_source=x"),  # same URL
    _feed(
        "Politik: KI & Recht #1",
        "https://politik.example/rss?a=1&b=2",
        language="de",
        jurisdictions=["DE", "EU"],
        interval="2h",
        enabled=False,
    ),
    _feed("Tech Policy Press", "https://mirror.example/tpp"),  # repeated within the import
]


def test_import_into_commented_file_keeps_comments_and_skips_duplicates(tmp_path: Path) -> None:
    p = _write(tmp_path, "feeds.yaml", COMMENTED)
    added, skipped = add_feeds_to_config_file(p, NEW)
    assert added == ["Tech Policy Press", "Politik: KI & Recht #1"]
    assert skipped == ["nist NEWS", "NIST again", "Tech Policy Press"]

    after = p.read_text(encoding="utf-8")
    new_lines = _only_insertions(COMMENTED, after)
    assert any("policybot feeds import" in line for line in new_lines)
    # The new entries sit in the feeds list, before the comments and sections that follow.
    assert after.index("Politik: KI") < after.index("# - name: Disabled for now")
    assert after.index("Politik: KI") < after.index("subscriptions:")

    cfg = load_config(p)
    assert [f.name for f in cfg.feeds] == [
        "NIST news",
        "EDPB",
        "Tech Policy Press",
        "Politik: KI & Recht #1",
    ]
    politik = cfg.feeds[3]
    assert politik.url == "https://politik.example/rss?a=1&b=2"
    assert politik.jurisdictions == ["DE", "EU"] and politik.interval == timedelta(hours=2)
    assert politik.language == "de" and politik.enabled is False
    assert cfg.subscriptions[0].name == "console" and cfg.classifier.threshold == 0.5
    assert cfg.defaults.interval == timedelta(minutes=30)

    # A second import of the same list adds nothing and leaves the file byte for byte.
    again_added, again_skipped = add_feeds_to_config_file(p, NEW)
    assert again_added == [] and len(again_skipped) == len(NEW)
    assert p.read_text(encoding="utf-8") == after


@pytest.mark.parametrize(
    "text",
    [
        # feeds is not the last key; indentless list style
        "feeds:\n- name: A\n  url: https://a.example/f\nclassifier:\n  threshold: 0.4\n",
        # an empty flow list with a comment after it
        "defaults:\n  interval: 1h\nfeeds: []  # none yet\nclassifier:\n  threshold: 0.4\n",
        # a flow list with an entry
        "feeds: [{name: A, url: 'https://a.example/f'}]\nclassifier: {threshold: 0.4}\n",
        # feeds with no value, then another key
        "feeds:\nclassifier:\n  threshold: 0.4\n",
        "feeds: ~   # later\n",
        # no feeds key at all, and no trailing newline
        "defaults:\n  interval: 1h\n# the end",
        # a bare list of feeds
        "- name: A\n  url: https://a.example/f\n# trailing comment\n",
        # only comments
        "# nothing yet\n",
        "",
    ],
)
def test_import_handles_every_layout(tmp_path: Path, text: str) -> None:
    p = _write(tmp_path, "feeds.yaml", text)
    before = [f.name for f in load_config(p).feeds] if "url:" in text else []
    add = [_feed("New one", "https://new.example/feed", jurisdictions=["KR"])]
    added, skipped = add_feeds_to_config_file(p, add)
    assert (added, skipped) == (["New one"], [])
    cfg = load_config(p)
    assert [f.name for f in cfg.feeds] == [*before, "New one"]
    assert cfg.feeds[-1].jurisdictions == ["KR"]
    if "threshold: 0.4" in text:
        assert cfg.classifier.threshold == 0.4
    after = p.read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            assert line.strip() in after  # comments survive, even when a list is rewritten


def test_missing_file_is_created(tmp_path: Path) -> None:
    p = tmp_path / "new.yaml"
    added, _ = add_feeds_to_config_file(p, [_feed("A", "https://a.example/f")])
    assert added == ["A"] and [f.name for f in load_config(p).feeds] == ["A"]


def test_crlf_file_stays_crlf(tmp_path: Path) -> None:
    p = _write(tmp_path, "feeds.yaml", COMMENTED.replace("\n", "\r\n").encode())
    add_feeds_to_config_file(p, [_feed("New", "https://new.example/f")])
    raw = p.read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n")
    assert raw.startswith(COMMENTED.replace("\n", "\r\n").encode()[:60])
    assert [f.name for f in load_config(p).feeds][-1] == "New"


def test_invalid_config_is_left_alone(tmp_path: Path) -> None:
    text = "feeds:\n  - name: A\n    url: nope\n"
    p = _write(tmp_path, "feeds.yaml", text)
    with pytest.raises(ConfigError, match=r"feeds\[0\] \('A'\)\.url"):
        add_feeds_to_config_file(p, [_feed("B", "https://b.example/f")])
    assert p.read_text(encoding="utf-8") == text


def test_unusual_layout_fails_cleanly_and_changes_nothing(tmp_path: Path) -> None:
    text = "{feeds: [{name: A, url: 'https://a.example/f'}]}\n"
    p = _write(tmp_path, "feeds.yaml", text)
    with pytest.raises(ConfigError) as info:
        add_feeds_to_config_file(p, [_feed("B", "https://b.example/f")])
    assert str(p) in str(info.value) and "unchanged" in str(info.value)
    assert p.read_text(encoding="utf-8") == text
    assert sorted(x.name for x in tmp_path.iterdir()) == ["feeds.yaml"]


def test_write_is_atomic_and_keeps_mode_and_symlink(tmp_path: Path) -> None:
    real = _write(tmp_path, "real.yaml", COMMENTED)
    os.chmod(real, 0o600)
    link = tmp_path / "feeds.yaml"
    link.symlink_to(real)
    add_feeds_to_config_file(link, [_feed("New", "https://new.example/f")])
    assert link.is_symlink()
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert "New" in [f.name for f in load_config(real).feeds]
    assert sorted(x.name for x in tmp_path.iterdir()) == ["feeds.yaml", "real.yaml"]


def test_unwritable_folder_is_a_config_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    p = _write(folder, "feeds.yaml", COMMENTED)
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):  # root ignores permissions
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(ConfigError, match="cannot write it"):
            add_feeds_to_config_file(p, [_feed("New", "https://new.example/f")])
        assert p.read_text(encoding="utf-8") == COMMENTED
    finally:
        folder.chmod(0o700)


def test_folders_are_written_as_comments_above_the_new_entries(tmp_path: Path) -> None:
    p = _write(tmp_path, "feeds.yaml", COMMENTED)
    feeds = import_opml(_write(tmp_path, "folders.opml", FOLDERS))
    added, skipped = add_feeds_to_config_file(p, feeds)
    assert skipped == ["EDPB"]  # the file has an EDPB already
    assert added == [f.name for f in feeds if f.name != "EDPB"]
    after = p.read_text(encoding="utf-8")
    new_lines = _only_insertions(COMMENTED, after)
    text = "".join(new_lines)
    assert (
        "  # OPML folder: Regulators / EU / Deutschland\n"
        "  - name: BfDI\n"
        "    url: https://bfdi.example/feed\n"
        "    jurisdictions: [EU, DE]\n"
    ) in text
    assert "  # OPML folder: AI / IT\n  - name: Blog\n" in text
    cfg = load_config(p)
    assert {f.name: f.jurisdictions for f in cfg.feeds}["网信"] == ["CN"]


def test_a_folder_name_cannot_break_out_of_its_comment(tmp_path: Path) -> None:
    # NEL, LS and PS end a line for YAML: a folder name holding one must not turn the rest of
    # it into YAML (here, a second `feeds:` entry).
    evil = "Evil&#x85;- name: injected&#x2028;  url: https://evil.example/&#x2029;x&#9;y"
    doc = f"""<opml version="2.0"><body>
      <outline text="{evil}"><outline text="Real" xmlUrl="https://real.example/feed"/></outline>
    </body></opml>"""
    p = _write(tmp_path, "feeds.yaml", COMMENTED)
    added, _ = add_feeds_to_config_file(p, import_opml(_write(tmp_path, "evil.opml", doc)))
    assert added == ["Real"]
    cfg = load_config(p)
    assert [f.name for f in cfg.feeds][-1] == "Real" and len(cfg.feeds) == 3
    comment = next(line for line in p.read_text(encoding="utf-8").splitlines() if "Evil" in line)
    assert comment == "  # OPML folder: Evil - name: injected url: https://evil.example/ x y"


def test_explicit_comments_and_plain_lists(tmp_path: Path) -> None:
    p = _write(tmp_path, "feeds.yaml", COMMENTED)
    plain = [_feed("A", "https://a.example/f"), _feed("B", "https://b.example/f")]
    add_feeds_to_config_file(p, plain, comments={"B": "why B is here"})
    text = p.read_text(encoding="utf-8")
    assert "  # why B is here\n  - name: B\n" in text
    assert text.count("  # ") == COMMENTED.count("  # ") + 2  # the import note and B's


def test_opml_import_end_to_end(tmp_path: Path) -> None:
    p = _write(tmp_path, "feeds.yaml", COMMENTED)
    feeds = import_opml(_write(tmp_path, "nested.opml", NESTED))
    added, skipped = add_feeds_to_config_file(p, feeds)
    assert skipped == []
    assert added == [f.name for f in feeds]
    _only_insertions(COMMENTED, p.read_text(encoding="utf-8"))
    exported = import_opml(_write(tmp_path, "out.opml", export_opml(load_config(p))))
    assert [f.url for f in exported][-len(feeds) :] == [f.url for f in feeds]
