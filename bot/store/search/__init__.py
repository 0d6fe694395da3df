"""Full-text search over stored stories, for any language (CJK included), on SQLite and PostgreSQL.

The query's terms must all occur in a story's title or summary (or a feed's name holds them
all: its stories match by source); short Latin terms are whole words, "quoted phrases" word
sequences, the rest case-insensitive substrings. The newest matches are found exactly by
racing index lanes, then ranked by relevance and recency, the same on both databases.

The modules, in the order they depend on each other:
- query: the query language (terms, "phrases", -word and NOT word, `since`, notices);
- match: the exact test of a match, in Python, and the ranking;
- lanes: streams of candidate ids, newest first, and the batch sizes;
- filters: the filters' SQL conditions and lanes;
- sqlite, postgres: each database's text lanes (FTS5; pg_trgm and a tsvector);
- planner: which lanes a search runs, and running them until the newest matches are exact;
- api: search_stories and its SearchPage.

Everything callers use is imported from here. The constants here are copies: a tunable is
changed on the module that reads it (api.WINDOW, lanes.FIRST_BATCH, sqlite.VOCAB_CACHE_SIZE).
"""

from __future__ import annotations

# Search results are StoryPosts; callers that list stories by id use the same builder.
from bot.store.posts import story_posts
from bot.store.search.api import (
    MAX_PER_PAGE,
    WINDOW,
    SearchPage,
    search_stories,
)
from bot.store.search.match import (
    RECENCY_HALF_LIFE_DAYS,
    RELEVANCE_WEIGHT,
    relevance,
    story_time,
)
from bot.store.search.postgres import CJK_CLASS, PG_TEXT, pg_tsvector_sql
from bot.store.search.query import (
    MAX_QUERY_CHARS,
    MAX_TERMS,
    MIN_TRIGRAM,
    ParsedQuery,
    SearchError,
    is_phrase_term,
    is_word_term,
    normalise_lang,
    parse_query,
    parse_since,
)
from bot.store.search.sqlite import fts5_expression

__all__ = [
    "CJK_CLASS",
    "MAX_PER_PAGE",
    "MAX_QUERY_CHARS",
    "MAX_TERMS",
    "MIN_TRIGRAM",
    "PG_TEXT",
    "RECENCY_HALF_LIFE_DAYS",
    "RELEVANCE_WEIGHT",
    "WINDOW",
    "ParsedQuery",
    "SearchError",
    "SearchPage",
    "fts5_expression",
    "is_phrase_term",
    "is_word_term",
    "normalise_lang",
    "parse_query",
    "parse_since",
    "pg_tsvector_sql",
    "relevance",
    "search_stories",
    "story_posts",
    "story_time",
]
