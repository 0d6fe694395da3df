"""Full-text search on SQLite (FTS5) and PostgreSQL (pg_trgm, tsvector): any language, any query."""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from bot.classify.verdict import Verdict
from bot.store import search
from bot.store.models import Entry, Feed, Story
from bot.store.search import (
    WINDOW,
    SearchError,
    fts5_expression,
    parse_query,
    parse_since,
    search_stories,
)
from bot.store.storage import Storage, store_verdict

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

# (title, summary, language, jurisdictions, topics, relevant, feed, age in days)
CORPUS = [
    (
        "EU AI Act enters into force",
        "The regulation on artificial intelligence applies from August.",
        "en",
        ("EU",),
        ("legislation",),
        True,
        "Politico Europe",
        1,
    ),
    (
        "US tightens export controls on AI chips",
        "Commerce adds rules for advanced GPUs.",
        "en",
        ("US",),
        ("export-controls",),
        True,
        "Reuters",
        2,
    ),
    (
        "中国发布生成式人工智能服务管理办法",
        "国家网信办公布新规，规范人工智能服务。",
        "zh",
        ("CN",),
        ("regulation",),
        True,
        "Xinhua",
        3,
    ),
    (
        "日本政府、AI法案を閣議決定",
        "人工知能の研究開発と活用を推進する法律。",
        "ja",
        ("JP",),
        ("legislation",),
        True,
        "NHK",
        4,
    ),
    (
        "한국 인공지능 기본법 국회 통과",
        "인공지능 산업 육성과 신뢰 기반 조성에 관한 법률.",
        "ko",
        ("KR",),
        ("legislation",),
        True,
        "Yonhap",
        5,
    ),
    (
        "Règlement européen sur l'IA : la CNIL publie ses recommandations",
        "L'autorité précise l'application du règlement.",
        "fr",
        ("EU", "FR"),
        ("regulation",),
        True,
        "Le Monde",
        6,
    ),
    ("New phone launched with AI camera", "A gadget review.", "en", (), (), False, "Reuters", 1),
    (
        "UK AI Safety Institute publishes evaluation results",
        "The institute tested frontier models.",
        "en",
        ("GB",),
        ("standards-safety",),
        True,
        "BBC",
        40,
    ),
]


def _seed(storage: Storage) -> dict[str, int]:
    ids: dict[str, int] = {}
    with storage.write() as s:
        feeds: dict[str, Feed] = {}
        for i, (title, summary, lang, jur, topics, relevant, feed, age) in enumerate(CORPUS):
            f = feeds.get(feed)
            if f is None:
                f = Feed(
                    name=feed,
                    config_url=f"https://{i}.example/feed",
                    url=f"https://{i}.example/feed",
                    jurisdictions=[],
                )
                s.add(f)
                s.flush()
                feeds[feed] = f
            story = Story(
                title=title,
                title_key=title.casefold()[:400],
                url=f"https://news.example/{i}",
                summary=summary,
                language=lang,
                published=NOW - timedelta(days=age),
                first_seen=NOW - timedelta(days=age),
            )
            s.add(story)
            s.flush()
            s.add(
                Entry(
                    feed_id=f.id,
                    uid=str(i),
                    uid_hash=f"h{i}",
                    story_id=story.id,
                    url=story.url,
                    title=title,
                    summary=summary,
                    published=story.published,
                )
            )
            store_verdict(
                s,
                story.id,
                Verdict(
                    relevant=relevant,
                    score=0.9 if relevant else 0.1,
                    jurisdictions=jur,
                    topics=topics,
                ),
            )
            ids[title] = story.id
    return ids


@pytest.fixture
def storage(db_url: str) -> Iterator[Storage]:
    s = Storage.open(db_url)
    yield s
    s.close()


@pytest.fixture
def seeded(storage: Storage) -> tuple[Storage, dict[str, int]]:
    return storage, _seed(storage)


def titles(s: Session, q: str, **kw: object) -> list[str]:
    page = search_stories(s, q, now=NOW, per_page=25, **kw)  # type: ignore[arg-type]
    return [h.title for h in page.hits]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("AI Act", "EU AI Act enters into force"),
        ("export controls", "US tightens export controls on AI chips"),
        ('"export controls"', "US tightens export controls on AI chips"),
        ("人工智能", "中国发布生成式人工智能服务管理办法"),
        ("AI法案", "日本政府、AI法案を閣議決定"),
        ("인공지능 기본법", "한국 인공지능 기본법 국회 통과"),
        ("règlement", "Règlement européen sur l'IA : la CNIL publie ses recommandations"),
        ("RÈGLEMENT", "Règlement européen sur l'IA : la CNIL publie ses recommandations"),
        ("safety institute", "UK AI Safety Institute publishes evaluation results"),
    ],
)
def test_finds_in_every_language(
    seeded: tuple[Storage, dict[str, int]], query: str, expected: str
) -> None:
    storage, _ = seeded
    with storage.session() as s:
        found = titles(s, query)
    assert found and found[0] == expected


def test_short_terms_use_the_like_fallback(seeded: tuple[Storage, dict[str, int]]) -> None:
    storage, _ = seeded
    with storage.session() as s:
        # Two-character CJK words are common and below the trigram length.
        assert titles(s, "法案") == ["日本政府、AI法案を閣議決定"]
        assert titles(s, "国会") == []
        assert titles(s, "국회") == ["한국 인공지능 기본법 국회 통과"]
        # A short term together with a long one filters the long one's matches.
        assert titles(s, "AI chips") == ["US tightens export controls on AI chips"]
        assert titles(s, "UK safety") == ["UK AI Safety Institute publishes evaluation results"]


def test_all_terms_must_match(seeded: tuple[Storage, dict[str, int]]) -> None:
    storage, _ = seeded
    with storage.session() as s:
        assert titles(s, "AI Act chips") == []
        assert titles(s, "export AI") == ["US tightens export controls on AI chips"]


def test_filters(seeded: tuple[Storage, dict[str, int]]) -> None:
    storage, _ = seeded
    with storage.session() as s:
        assert titles(s, "", jurisdiction="cn") == ["中国发布生成式人工智能服务管理办法"]
        legis = titles(s, "", topic="legislation")
        assert set(legis) == {CORPUS[0][0], CORPUS[3][0], CORPUS[4][0]}
        assert titles(s, "AI", source="reuters") == ["US tightens export controls on AI chips"]
        assert titles(s, "AI", source="no such feed") == []
        assert titles(s, "", lang="ja") == [CORPUS[3][0]]
        recent = titles(s, "", since=NOW - timedelta(days=3, hours=1))
        assert set(recent) == {CORPUS[0][0], CORPUS[1][0], CORPUS[2][0]}
        assert titles(s, "safety", since=NOW - timedelta(days=10)) == []
        # Not relevant: hidden by default, found on request.
        assert titles(s, "phone") == []
        assert titles(s, "phone", relevant_only=False) == ["New phone launched with AI camera"]
        with pytest.raises(SearchError):
            search_stories(s, "x", since=datetime(2026, 1, 1))


def test_source_names_are_searched(seeded: tuple[Storage, dict[str, int]]) -> None:
    storage, _ = seeded
    with storage.session() as s:
        assert titles(s, "Yonhap") == [CORPUS[4][0]]
        assert titles(s, "politico") == [CORPUS[0][0]]


def test_ranking_prefers_title_hits_and_recency(storage: Storage) -> None:
    with storage.write() as s:
        for title, summary, age in [
            ("Budget news", "The AI regulation debate continues", 1),
            ("AI regulation advances", "Lawmakers vote", 1),
            # A month old: a title match still beats yesterday's passing mention.
            ("AI regulation advances again", "Lawmakers vote again", 30),
        ]:
            story = Story(
                title=title,
                title_key=title,
                summary=summary,
                language="en",
                published=NOW - timedelta(days=age),
                first_seen=NOW,
            )
            s.add(story)
            s.flush()
            store_verdict(s, story.id, Verdict(relevant=True, score=0.8))
    with storage.session() as s:
        assert titles(s, "AI regulation") == [
            "AI regulation advances",
            "AI regulation advances again",
            "Budget news",
        ]


def test_paging_and_totals(storage: Storage) -> None:
    with storage.write() as s:
        for i in range(12):
            story = Story(
                title=f"Algorithm audit rule {i}",
                title_key=f"k{i}",
                summary="",
                language="en",
                published=NOW - timedelta(hours=i),
                first_seen=NOW,
            )
            s.add(story)
            s.flush()
            store_verdict(s, story.id, Verdict(relevant=True, score=0.8))
    with storage.session() as s:
        p1 = search_stories(s, "algorithm audit", page=1, per_page=5, now=NOW)
        p3 = search_stories(s, "algorithm audit", page=3, per_page=5, now=NOW)
        p4 = search_stories(s, "algorithm audit", page=4, per_page=5, now=NOW)
    assert (p1.total, len(p1.hits), p1.has_more) == (12, 5, True)
    assert (len(p3.hits), p3.has_more) == (2, False)
    assert p4.hits == [] and not p4.has_more
    seen = [h.story_id for h in p1.hits] + [h.story_id for h in p3.hits]
    assert len(set(seen)) == 7
    # Newest first among equally relevant titles.
    assert p1.hits[0].title == "Algorithm audit rule 0"


def test_more_matches_than_the_window_report_no_total(storage: Storage) -> None:
    with storage.write() as s:
        s.add_all(
            Story(
                title=f"Chip rule {i}",
                title_key=f"k{i}",
                summary="",
                language="en",
                published=NOW,
                first_seen=NOW,
            )
            for i in range(WINDOW + 5)
        )
    with storage.session() as s:
        page = search_stories(s, "chip rule", relevant_only=False, now=NOW)
    assert page.total is None and page.has_more and len(page.hits) == 5


def test_story_posts_carry_sources_and_tags(seeded: tuple[Storage, dict[str, int]]) -> None:
    storage, _ = seeded
    with storage.session() as s:
        (hit,) = search_stories(s, "export controls", now=NOW).hits
    assert hit.sources[0].name == "Reuters" and hit.sources[0].url == hit.url
    assert hit.jurisdictions == ("US",) and hit.topics == ("export-controls",)
    assert hit.published == NOW - timedelta(days=2)


def test_index_follows_updates_and_deletes(seeded: tuple[Storage, dict[str, int]]) -> None:
    storage, ids = seeded
    sid = ids[CORPUS[1][0]]
    with storage.write() as s:
        story = s.get(Story, sid)
        assert story is not None
        story.title = "US lifts semiconductor licensing requirement"
    with storage.session() as s:
        assert titles(s, "export controls") == []
        assert titles(s, "semiconductor") == ["US lifts semiconductor licensing requirement"]
    with storage.write() as s:
        s.execute(delete(Story).where(Story.id == sid))  # FKs cascade in the database
    with storage.session() as s:
        assert titles(s, "semiconductor") == []
        assert titles(s, "AI chips") == []  # the word index forgot it too
        if s.get_bind().dialect.name == "sqlite":
            # Both FTS indexes are consistent (the triggers deleted what they had inserted).
            for t in ("stories_fts", "stories_fts_words"):
                s.execute(text(f"INSERT INTO {t}({t}) VALUES ('integrity-check')"))


HOSTILE = [
    "",
    "   ",
    '"',
    '"unbalanced quote',
    'AI" OR "1"="1',
    "AI AND NOT regulation",
    "NEAR(AI act, 5)",
    "title:AI",
    "AI*",
    "^AI",
    "-AI",
    "'; DROP TABLE stories; --",
    "%",
    "_",
    "\\",
    "%_%",
    "a" * 5000,
    "AI " * 2000,
    "🤖🇪🇺 AI",
    "🤖",
    "\x00\x01 AI \u202e",
    "((((((((",
    "{title summary}: AI",
    "AI + act",
    "*",
    ":",
    "NOT",
    "OR OR OR",
]


def test_hostile_queries_never_fail(seeded: tuple[Storage, dict[str, int]]) -> None:
    storage, _ = seeded
    for query in HOSTILE:
        with storage.session() as s:
            page = search_stories(s, query, now=NOW)
            assert page.page == 1, query
            assert len(page.hits) <= 5, query
    with storage.session() as s:  # the tables are intact
        assert s.execute(text("SELECT count(*) FROM stories")).scalar() == len(CORPUS)
    with storage.session() as s:  # operators are literal text, not syntax
        assert titles(s, 'AI" OR "1"="1') == []
        # NOT excludes (AND is what every query means anyway)
        assert CORPUS[0][0] not in titles(s, "AI AND NOT regulation")
        # Emoji carry no letters: the query is the rest of it.
        assert titles(s, "🤖🇪🇺 AI") == titles(s, "AI") != []


def test_excluded_words_leave_out_the_stories_that_hold_them(
    seeded: tuple[Storage, dict[str, int]],
) -> None:
    storage, _ = seeded
    act = "EU AI Act enters into force"  # its summary says "regulation"
    chips = "US tightens export controls on AI chips"
    with storage.session() as s:
        ai = titles(s, "AI")
        assert act in ai and chips in ai
        without = [t for t in ai if t != act]
        assert titles(s, "AI NOT regulation") == without
        assert titles(s, "AI -regulation") == without
        assert titles(s, "-regulation AI") == without
        assert titles(s, "AI -regulations") == ai  # whole words, as search terms are
        assert titles(s, "chips") == [chips]
        assert titles(s, 'chips -"export controls"') == []
        assert titles(s, 'chips -"controls export"') == [chips]  # a phrase, not two words
        # Exclusions alone: everything but what holds them.
        everything = titles(s, "")
        assert titles(s, "-chips") == [t for t in everything if t != chips]
        only_excluded = search_stories(s, "-chips", now=NOW).notices
        assert only_excluded == ("left out: stories holding 'chips'",)  # not "ignored"
        # Stories found by their source's name are excluded alike.
        assert chips in titles(s, "Reuters")
        assert chips not in titles(s, "Reuters -chips")
        assert titles(s, "人工智能 -办法") == []  # CJK: a substring, as its search terms are


def test_parse_query_exclusions_and_unsupported_or() -> None:
    pq = parse_query('AI NOT regulation -"export controls" -x- e-commerce "un-do"')
    assert pq.terms == ("un-do", "ai", "e-commerce")  # phrases first, as before
    assert pq.excluded == ("regulation", "export controls", "x")
    assert pq.notices == ()
    assert parse_query('chips "-export controls"').excluded == ("export controls",)
    assert parse_query("AI -ai").excluded == ()  # a term is never also excluded
    assert parse_query("NOT").terms == ("not",)  # a lone NOT is a word
    assert any("OR is not supported" in n for n in parse_query("AI OR chips").notices)
    assert parse_query("AI OR chips").terms == ("ai", "chips")


def test_percent_and_underscore_are_literal(storage: Storage) -> None:
    with storage.write() as s:
        for title in ("Tariff up 25% on AI chips", "Tariff up 250 on AI chips", "snake_case rule"):
            story = Story(
                title=title,
                title_key=title,
                summary="",
                language="en",
                published=NOW,
                first_seen=NOW,
            )
            s.add(story)
    with storage.session() as s:
        assert titles(s, "5%", relevant_only=False) == ["Tariff up 25% on AI chips"]
        assert titles(s, "e_c", relevant_only=False) == ["snake_case rule"]
        assert titles(s, "25%", relevant_only=False) == ["Tariff up 25% on AI chips"]


def test_parse_query_and_fts_expression() -> None:
    pq = parse_query('  "AI Act"  OR chips AND "unclosed ')
    assert pq.terms == ("ai act", "chips", "unclosed")
    assert parse_query("a" * 5000).notices
    assert len(parse_query(" ".join(f"w{i}" for i in range(30))).terms) == 8
    assert parse_query("*** ::: ---").terms == ()
    assert fts5_expression(['say "hi"', "x"]) == '"say ""hi""" "x"'


@pytest.fixture(scope="module")
def module_storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Storage]:
    storage = Storage.open(f"sqlite:///{tmp_path_factory.mktemp('hyp') / 'p.db'}")
    _seed(storage)
    yield storage
    storage.close()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=80))
def test_any_text_is_a_valid_query_on_sqlite(module_storage: Storage, query: str) -> None:
    with module_storage.session() as s:
        page = search_stories(s, query, now=NOW)
    assert len(page.hits) <= 5


def test_parse_since() -> None:
    assert parse_since("7d", NOW) == NOW - timedelta(days=7)
    assert parse_since("24h", NOW) == NOW - timedelta(hours=24)
    assert parse_since("2026-11-01", NOW) == datetime(2026, 11, 1, tzinfo=UTC)
    for bad in ("yesterday", "7x", "", "99999d"):
        with pytest.raises(SearchError):
            parse_since(bad, NOW)


def test_migration_downgrade_removes_search(sqlite_url: str) -> None:
    from alembic import command

    from bot.store.db import _alembic_config, migrate

    storage = Storage.open(sqlite_url)
    try:
        with storage.engine.begin() as c:
            assert (
                c.execute(
                    text("SELECT count(*) FROM sqlite_master WHERE name='stories_fts'")
                ).scalar()
                == 1
            )
        command.downgrade(_alembic_config(storage.engine), "0001")
        with storage.engine.begin() as c:
            assert (
                c.execute(
                    text("SELECT count(*) FROM sqlite_master WHERE name LIKE 'stories_fts%'")
                ).scalar()
                == 0
            )
            cols = [r[1] for r in c.execute(text("PRAGMA table_info(feeds)"))]
            assert "origin" not in cols
        migrate(storage.engine, "head")
        _seed(storage)
        with storage.session() as s:
            assert titles(s, "人工智能")
    finally:
        storage.close()


def _add(
    s: Session,
    title: str,
    summary: str = "",
    *,
    lang: str = "en",
    age_days: float = 0,
    relevant: bool = True,
) -> int:
    story = Story(
        title=title,
        title_key=title.casefold()[:400],
        summary=summary,
        language=lang,
        published=NOW - timedelta(days=age_days),
        first_seen=NOW,
    )
    s.add(story)
    s.flush()
    store_verdict(s, story.id, Verdict(relevant=relevant, score=0.8))
    return story.id


def test_short_latin_terms_are_whole_words(storage: Storage) -> None:
    with storage.write() as s:
        for title in (
            "AI rules agreed",
            "(AI) and the EU's plan",
            "Officials said again",
            "OpenAI raises money",
            "A neutral stance",
            "Ukraine talks",
            "日本政府、AI法案を閣議決定",
            "生成AIの規制",
            "UK AI-driven audits",
        ):
            _add(s, title)
    with storage.session() as s:
        assert set(titles(s, "AI")) == {
            "AI rules agreed",
            "(AI) and the EU's plan",
            "日本政府、AI法案を閣議決定",
            "生成AIの規制",
            "UK AI-driven audits",
        }
        assert titles(s, "EU") == ["(AI) and the EU's plan"]
        assert titles(s, "UK") == ["UK AI-driven audits"]
        # Three letters and more are substrings again.
        assert set(titles(s, "rai")) == {"OpenAI raises money", "Ukraine talks"}


def test_cjk_terms_at_the_end_and_single_characters(storage: Storage) -> None:
    with storage.write() as s:
        _add(s, "中国加强人工智能监管", lang="zh")
        _add(s, "新规出台", "由网信办发布", lang="zh")
        _add(s, "한국 규제", lang="ko")
    with storage.session() as s:
        # Two-character terms at the very end of a column (the index text is padded).
        assert titles(s, "监管") == ["中国加强人工智能监管"]
        assert titles(s, "发布") == ["新规出台"]
        assert titles(s, "규제") == ["한국 규제"]
        # One character, anywhere.
        assert titles(s, "管") == ["中国加强人工智能监管"]
        assert titles(s, "办") == ["新规出台"]
        assert titles(s, "监 新") == []
        assert titles(s, "监管 中国") == ["中国加强人工智能监管"]


def test_case_folding_keeps_sharp_s_and_finds_uppercase(storage: Storage) -> None:
    with storage.write() as s:
        _add(s, "Bußgeld für KI-Anbieter", lang="de")
        _add(s, "ΡΥΘΜΙΣΗ της τεχνητής νοημοσύνης", lang="el")
    with storage.session() as s:
        assert titles(s, "Bußgeld") == ["Bußgeld für KI-Anbieter"]
        assert titles(s, "BUSSGELD") == []  # no ß -> ss folding in either index
        assert titles(s, "ki") == ["Bußgeld für KI-Anbieter"]
        assert titles(s, "ρυθμιση") == ["ΡΥΘΜΙΣΗ της τεχνητής νοημοσύνης"]


def test_language_filter_uses_the_primary_subtag(storage: Storage) -> None:
    with storage.write() as s:
        _add(s, "Regulation news one", lang="zh-Hant")
        _add(s, "Regulation news two", lang="pt_BR")
        _add(s, "Regulation news three", lang="zh")
    with storage.session() as s:
        assert set(titles(s, "regulation", lang="zh")) == {
            "Regulation news one",
            "Regulation news three",
        }
        assert titles(s, "regulation", lang="pt-BR") == ["Regulation news two"]
        assert titles(s, "", lang="zh-TW") == ["Regulation news three", "Regulation news one"]
        assert titles(s, "AI", lang="zh") == []


def test_migration_sql_matches_the_module() -> None:
    spec = importlib.util.spec_from_file_location(
        "m0003",
        search.__file__.replace(
            "bot/store/search.py", "migrations/versions/0003_search_indexes.py"
        ),
    )
    assert spec and spec.loader
    mig = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mig)
    assert mig.CJK_CLASS == search.CJK_CLASS
    assert mig.pg_tsvector_sql(mig.PG_TEXT) == search.pg_tsvector_sql(search.PG_TEXT)


# -- the drivers, batches and windows give exactly what a brute-force filter gives ----------

_VOCAB = [
    "ai",
    "eu",
    "act",
    "chips",
    "export",
    "rule",
    "safety",
    "法案",
    "监管",
    "人工智能",
    "규제",
    "안전",
    "said",
    "again",
    "model",
]


def _oracle_corpus(storage: Storage, rng: random.Random, n: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    with storage.write() as s:
        feeds = []
        for i in range(4):
            f = Feed(
                name=f"Oracle Feed {i}",
                config_url=f"https://o{i}.example/f",
                url=f"https://o{i}.example/f",
                jurisdictions=[],
            )
            s.add(f)
            s.flush()
            feeds.append(f.id)
        # Stored in the order first seen, as ingest does (within SEEN_SKEW: polls overlap).
        seen_ages = sorted((rng.uniform(0, 400) for _ in range(n)), reverse=True)
        for i, seen_age in enumerate(seen_ages):
            seen = NOW - timedelta(days=seen_age) - timedelta(hours=rng.uniform(0, 2))
            r = rng.random()
            if r < 0.8:  # published a little before it was seen
                published = seen - timedelta(hours=rng.uniform(0, 12))
            elif r < 0.9:  # a back catalogue: long before
                published = seen - timedelta(days=rng.uniform(20, 300))
            else:  # a feed's clock ahead: ranked as first seen
                published = seen + timedelta(hours=rng.uniform(0, 24))
            words = rng.choices(_VOCAB, k=rng.randint(2, 6))
            sep = "" if rng.random() < 0.5 else " "
            title = sep.join(w.upper() if rng.random() < 0.2 else w for w in words)
            summary = " ".join(rng.choices(_VOCAB, k=rng.randint(0, 5)))
            relevant = rng.random() < 0.6
            jur = tuple(rng.sample(["EU", "US", "CN"], rng.randint(0, 2))) if relevant else ()
            lang = rng.choice(["en", "zh", "ko", "en-GB"])
            story = Story(
                title=title,
                title_key=f"o{i}",
                summary=summary,
                language=lang,
                published=published,
                first_seen=seen,
            )
            s.add(story)
            s.flush()
            feed = rng.choice(feeds)
            s.add(
                Entry(
                    feed_id=feed,
                    uid=f"o{i}",
                    uid_hash=f"o{i}",
                    story_id=story.id,
                    url=None,
                    title=title,
                    summary=summary,
                    published=story.published,
                )
            )
            store_verdict(s, story.id, Verdict(relevant=relevant, score=0.5, jurisdictions=jur))
            rows.append(
                {
                    "id": story.id,
                    "title": title,
                    "summary": summary,
                    "lang": lang,
                    "relevant": relevant,
                    "jur": jur,
                    "feed": feeds.index(feed),
                    "published": published,
                    "when": min(published, seen),
                }
            )
    return rows


@pytest.mark.parametrize("hits", ["hits", "no hits"])
def test_search_equals_brute_force(
    storage: Storage, monkeypatch: pytest.MonkeyPatch, hits: str
) -> None:
    # Tiny batches and sets: every lane takes many turns, PostgreSQL's hit list overflows.
    monkeypatch.setattr(search, "FIRST_BATCH", 3)
    monkeypatch.setattr(search, "MAX_BATCH", 7)
    monkeypatch.setattr(search, "SET_LIMIT", 20)
    monkeypatch.setattr(search, "FIRST_LOOK", 5)
    monkeypatch.setattr(search, "WINDOW", 30)
    if hits == "no hits":  # PostgreSQL's hit set gives up at once (as on its time limit)
        monkeypatch.setattr(search._PgHits, "step", lambda self, s, below, k: ([], -1))
    rng = random.Random(5)
    corpus = _oracle_corpus(storage, rng, 300)
    for _ in range(80):
        q = " ".join(rng.sample(_VOCAB, rng.randint(0, 2)))
        kw: dict[str, object] = {}
        if rng.random() < 0.5:
            kw["jurisdiction"] = rng.choice(["EU", "US", "CN"])
        if rng.random() < 0.3:
            kw["lang"] = rng.choice(["en", "zh", "ko"])
        if rng.random() < 0.3:
            kw["since"] = NOW - timedelta(days=rng.choice([3, 30, 300]))
        if rng.random() < 0.2:
            kw["source"] = f"Oracle Feed {rng.randrange(4)}"
        relevant_only = rng.random() < 0.7
        pq = parse_query(q)
        m = search._Matcher(pq.terms)
        want = []
        for r in corpus:
            if not m.matches(str(r["title"]), str(r["summary"])):
                continue
            if relevant_only and not r["relevant"]:
                continue
            if "jurisdiction" in kw and kw["jurisdiction"] not in r["jur"]:  # type: ignore[operator]
                continue
            if "lang" in kw and str(r["lang"]).split("-")[0] != kw["lang"]:
                continue
            if "since" in kw and r["published"] < kw["since"]:  # type: ignore[operator]
                continue
            if "source" in kw and f"Oracle Feed {r['feed']}" != kw["source"]:
                continue
            want.append((r["when"], int(r["id"])))  # type: ignore[call-overload]
        total = len(want) if len(want) <= 30 else None
        # The window: the 30 newest matches by story time (then id), whatever their ids.
        want = sorted((i for _, i in sorted(want, reverse=True)[:30]), reverse=True)
        got: list[int] = []
        with storage.session() as s:
            for page in range(1, 7):
                res = search_stories(
                    s, q, page=page, per_page=5, now=NOW, relevant_only=relevant_only, **kw
                )  # type: ignore[arg-type]
                got += [h.story_id for h in res.hits]
                if not res.has_more:
                    break
        assert sorted(got, reverse=True) == want, (q, kw, relevant_only)
        assert res.total == total, (q, kw, relevant_only)


def test_cached_vocabulary_follows_new_stories(storage: Storage) -> None:
    with storage.write() as s:
        _add(s, "监管新规", lang="zh")
    with storage.session() as s:
        assert titles(s, "监管") == ["监管新规"]
    with storage.write() as s:  # a trigram the first lookup did not see: 监管者
        _add(s, "监管者说", lang="zh")
    with storage.session() as s:
        assert set(titles(s, "监管")) == {"监管新规", "监管者说"}
    with storage.write() as s:
        s.execute(delete(Story).where(Story.title == "监管新规"))
    with storage.session() as s:
        assert titles(s, "监管") == ["监管者说"]


def test_quoted_phrases_are_word_sequences(storage: Storage) -> None:
    with storage.write() as s:
        _add(s, "New export controls on chips")
        _add(s, "Export-controls tightened")
        _add(s, "Reexport controlsystems audit")
        _add(s, "Controls on export")
        _add(s, "人工 智能 监管")
    with storage.session() as s:
        assert set(titles(s, '"export controls"')) == {
            "New export controls on chips",
            "Export-controls tightened",
        }
        # Unquoted, the words are two substrings, in any order.
        assert len(titles(s, "export controls")) == 4
        # CJK in quotes stays a substring, spaces included.
        assert titles(s, '"智能 监管"') == ["人工 智能 监管"]
        assert titles(s, '"人工智能"') == []


def test_odd_filter_values_are_safe(seeded: tuple[Storage, dict[str, int]]) -> None:
    storage, _ = seeded
    with storage.session() as s:
        for lang in ("x'y", "%", "\\", "zh%", "a-%"):
            assert titles(s, "AI regulation", lang=lang) == []
        assert titles(s, "5% 'x", jurisdiction="'; --", topic="%") == []
        assert titles(s, "人工智能", lang="zh") == [CORPUS[2][0]]
