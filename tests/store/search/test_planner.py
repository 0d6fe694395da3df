"""The planner: lanes, batches and windows give exactly what a brute-force filter gives."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from bot.store.models import Entry, Feed, Story
from bot.store.pollwrite import store_verdict
from bot.store.search import api, lanes, parse_query, postgres, search_stories
from bot.store.search.match import Matcher
from bot.store.storage import Storage
from bot.verdict import Verdict
from tests.store.search.corpus import NOW

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
    monkeypatch.setattr(lanes, "FIRST_BATCH", 3)
    monkeypatch.setattr(lanes, "MAX_BATCH", 7)
    monkeypatch.setattr(lanes, "SET_LIMIT", 20)
    monkeypatch.setattr(postgres, "FIRST_LOOK", 5)
    monkeypatch.setattr(api, "WINDOW", 30)
    if hits == "no hits":  # PostgreSQL's hit set gives up at once (as on its time limit)
        monkeypatch.setattr(postgres.PgHits, "step", lambda self, s, below, k: ([], -1))
    rng = random.Random(5)
    corpus = _oracle_corpus(storage, rng, 300)
    for _ in range(80):
        q = " ".join(rng.sample(_VOCAB, rng.randint(0, 2)))
        if rng.random() < 0.2:  # a phrase: PostgreSQL looks it up by its word pairs
            q = '"' + " ".join(rng.choices(_VOCAB[:7] + _VOCAB[12:], k=rng.randint(2, 3))) + '"'
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
        m = Matcher(pq.terms)
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
