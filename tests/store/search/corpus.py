"""The stories the search tests share: a small corpus in several languages, and helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from bot.store.models import Entry, Feed, Story
from bot.store.pollwrite import store_verdict
from bot.store.search import search_stories
from bot.store.storage import Storage
from bot.verdict import Verdict

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


def seed(storage: Storage) -> dict[str, int]:
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


def titles(s: Session, q: str, **kw: object) -> list[str]:
    page = search_stories(s, q, now=NOW, per_page=25, **kw)  # type: ignore[arg-type]
    return [h.title for h in page.hits]


def add(
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
