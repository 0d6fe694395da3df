"""Full-text search on SQLite (FTS5) and PostgreSQL (pg_trgm, tsvector): any language, any query."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, text

from bot.store.models import Story
from bot.store.pollwrite import store_verdict
from bot.store.search import WINDOW, SearchError, parse_query, search_stories
from bot.store.storage import Storage
from bot.verdict import Verdict
from tests.store.search.corpus import CORPUS, NOW, add, seed, titles


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
    '"unbalanced quote',
    'AI" OR "1"="1',
    "AI AND NOT regulation",
    "NEAR(AI act, 5)",
    "title:AI",
    "AI*",
    "^AI",
    "-AI",
    "'; DROP TABLE stories; --",
    "a" * 5000,
    "AI " * 2000,
    "🤖🇪🇺 AI",
    "\x00\x01 AI \u202e",
    "{title summary}: AI",
    "AI + act",
    "NOT",
    "OR OR OR",
]
# Text without a letter or digit: a SearchError, not every story as if it had been searched for.
NOTHING_TO_SEARCH = [
    '"',
    '""',
    "*",
    "%",
    "_",
    "\\",
    "%_%",
    "-",
    "--",
    '-"-"',
    "()",
    "((((((((",
    ":",
    "🤖",
    "\x00\x01 \u202e",
    "\ud800",
    "-" * 5000,
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


def test_a_query_of_punctuation_only_says_there_is_nothing_to_search_for(
    seeded: tuple[Storage, dict[str, int]],
) -> None:
    storage, _ = seeded
    with storage.session() as s:
        for query in NOTHING_TO_SEARCH:
            with pytest.raises(SearchError, match="nothing to search for") as exc:
                search_stories(s, query, now=NOW)
            assert 'type a word or a "quoted phrase"' in str(exc.value), query
            assert "leave the query empty" not in str(exc.value), query
        # With a filter, the way to list what it picks is an empty query.
        with pytest.raises(SearchError, match="leave the query empty"):
            search_stories(s, "*", jurisdiction="CN", now=NOW)
        # An empty query still lists: the newest stories, or those the filters pick.
        assert titles(s, "") and titles(s, "   ") == titles(s, "")
        assert titles(s, "", jurisdiction="CN") == [CORPUS[2][0]]
        assert titles(s, " ", topic="legislation")
        # Punctuation beside a word or an exclusion is noise around a real query.
        assert titles(s, "* AI *") == titles(s, "AI") != []
        assert titles(s, "-chips *") == titles(s, "-chips") != []


def test_lone_surrogates_in_a_query_are_dropped(seeded: tuple[Storage, dict[str, int]]) -> None:
    storage, _ = seeded
    with storage.session() as s:
        ai = titles(s, "AI")
        assert ai
        assert titles(s, "\ud800AI") == ai
        assert titles(s, "AI \udfff") == ai
        assert titles(s, "人工\udc00智能") == titles(s, "人工智能") != []
        assert titles(s, "AI -chi\ud800ps") == titles(s, "AI -chips")
        page = search_stories(s, "AI -\ud800chips", now=NOW)
        assert page.terms == ("ai",) and "'chips'" in page.notices[-1]


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


@pytest.fixture(scope="module")
def module_storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Storage]:
    storage = Storage.open(f"sqlite:///{tmp_path_factory.mktemp('hyp') / 'p.db'}")
    seed(storage)
    yield storage
    storage.close()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=80))
def test_any_text_is_a_valid_query_on_sqlite(module_storage: Storage, query: str) -> None:
    with module_storage.session() as s:
        try:
            page = search_stories(s, query, now=NOW)
        except SearchError as exc:  # only for text with nothing to search for
            assert "nothing to search for" in str(exc)
            pq = parse_query(query)
            assert query.strip() and not pq.terms and not pq.excluded
            return
    assert len(page.hits) <= 5


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
            add(s, title)
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
        add(s, "中国加强人工智能监管", lang="zh")
        add(s, "新规出台", "由网信办发布", lang="zh")
        add(s, "한국 규제", lang="ko")
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
        add(s, "Bußgeld für KI-Anbieter", lang="de")
        add(s, "ΡΥΘΜΙΣΗ της τεχνητής νοημοσύνης", lang="el")
    with storage.session() as s:
        assert titles(s, "Bußgeld") == ["Bußgeld für KI-Anbieter"]
        assert titles(s, "BUSSGELD") == []  # no ß -> ss folding in either index
        assert titles(s, "ki") == ["Bußgeld für KI-Anbieter"]
        assert titles(s, "ρυθμιση") == ["ΡΥΘΜΙΣΗ της τεχνητής νοημοσύνης"]


def test_language_filter_uses_the_primary_subtag(storage: Storage) -> None:
    with storage.write() as s:
        add(s, "Regulation news one", lang="zh-Hant")
        add(s, "Regulation news two", lang="pt_BR")
        add(s, "Regulation news three", lang="zh")
    with storage.session() as s:
        assert set(titles(s, "regulation", lang="zh")) == {
            "Regulation news one",
            "Regulation news three",
        }
        assert titles(s, "regulation", lang="pt-BR") == ["Regulation news two"]
        assert titles(s, "", lang="zh-TW") == ["Regulation news three", "Regulation news one"]
        assert titles(s, "AI", lang="zh") == []


def test_quoted_phrases_are_word_sequences(storage: Storage) -> None:
    with storage.write() as s:
        add(s, "New export controls on chips")
        add(s, "Export-controls tightened")
        add(s, "Reexport controlsystems audit")
        add(s, "Controls on export")
        add(s, "人工 智能 监管")
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
