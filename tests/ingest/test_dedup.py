"""dedup: title keys, same_story and the RecentTitles index."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.ingest import dedup
from bot.ingest.dedup import RecentTitles, same_story, title_key

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# ------------------------------------------------------------------------------ title_key


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("EU agrees AI Act deal", "eu agrees ai act deal"),
        ("  EU   agrees\tAI Act\ndeal  ", "eu agrees ai act deal"),
        ("EU agrees AI Act deal - Reuters", "eu agrees ai act deal"),
        ("EU agrees AI Act deal | The Verge", "eu agrees ai act deal"),
        ("EU agrees AI Act deal — BBC News", "eu agrees ai act deal"),
        ("EU agrees AI Act deal - Politics - BBC News", "eu agrees ai act deal"),
        ("UPDATE 2-EU agrees AI Act deal", "eu agrees ai act deal"),
        ("EXCLUSIVE: EU agrees AI Act deal", "eu agrees ai act deal"),
        ("EU agrees AI-Act deal!", "eu agrees ai act deal"),
        ("“EU agrees” AI Act deal?", "eu agrees ai act deal"),
        ("Meta's AI chief quits", "meta ai chief quits"),
        ("Régulation: l’Europe adopte", "regulation l europe adopte"),
        ("ＡＩ　規制", "ai 規制"),  # full-width forms folded
        # a known outlet is stripped even after a short headline
        ("AI rules - Reuters", "ai rules"),
        # a long tail is part of the headline, not a source
        (
            "AI rules - what they mean for the startups of Europe",
            "ai rules what they mean for the startups of europe",
        ),
        # too little would remain: the tail stays
        ("AI rules - explained", "ai rules explained"),
        ("", ""),
        ("!!! ---", ""),
    ],
)
def test_title_key(title: str, key: str) -> None:
    assert title_key(title) == key


def test_title_key_keeps_cjk_marks_and_hangul() -> None:
    # NFD would split が into か + dakuten and Hangul into jamo; both must survive intact.
    assert title_key("データがAI規制") == "データがai規制"
    assert title_key("한국 정부") == "한국 정부"
    assert title_key("ガイド") != title_key("カイト")
    # but Latin accents are dropped so "Régulation" matches "Regulation"
    assert title_key("Régulation de l'IA") == title_key("Regulation de l IA")


# ------------------------------------------------------------------------------ same_story


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("EU agrees AI Act deal", "EU agrees AI Act deal - Reuters"),
        ("EU agrees AI Act deal", "EU Agrees AI Act Deal | The Verge"),
        ("EU agrees AI Act deal", "EU agrees on AI Act deal"),
        ("EU agrees AI Act deal", "EU agreed AI Act deal"),
        ("EU agrees AI Act deal", "EU agrees landmark AI Act deal"),
        ("UPDATE 1-US tightens AI chip export rules", "US tightens AI chip export rules"),
        ("US tightens AI chip export rules", "U.S. tightens AI chip export rule"),
        ("欧盟通过人工智能法案", "欧盟通过人工智能法案 - 新华网"),
        ("Short", "short"),
    ],
)
def test_same_story(a: str, b: str) -> None:
    assert same_story(a, b)
    assert same_story(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("EU fines Meta over AI", "EU fines Google over AI"),
        ("Biden signs AI executive order", "Trump signs AI executive order"),
        ("Senate passes AI bill in 2023", "Senate passes AI bill in 2024"),
        ("Meta sues EU over AI", "EU sues Meta over AI"),
        ("EU fines Meta over AI", "EU fines Meta and Google over AI"),
        ("UK AI Safety Institute opens", "US AI Safety Institute opens"),
        ("欧盟对Meta处以人工智能罚款", "欧盟对谷歌处以人工智能罚款"),
        ("EU agrees AI Act deal", "EU agrees landmark historic AI Act deal"),
        ("China sets rules for generative AI", "Japan sets rules for generative AI"),
        # the same numbers in another order are another item
        ("AI Act explained, part 2 of 3 (Reuters)", "AI Act explained, part 3 of 2 (Reuters)"),
        ("Senate AI bill 12 clears committee 4", "Senate AI bill 4 clears committee 12"),
        # short titles must match exactly
        ("AI rules", "AI rule"),
        ("New AI law", "New AI laws"),
        ("", ""),
        ("EU agrees AI Act deal", ""),
    ],
)
def test_not_same_story(a: str, b: str) -> None:
    assert not same_story(a, b)
    assert not same_story(b, a)


# ------------------------------------------------------------------------------ RecentTitles


def test_recent_titles_finds_the_same_story() -> None:
    idx: RecentTitles[int] = RecentTitles()
    idx.add(1, "EU agrees AI Act deal", NOW - timedelta(hours=1))
    idx.add(2, "EU fines Meta over AI", NOW - timedelta(hours=1))
    assert idx.find("EU agrees AI Act deal - Reuters", NOW) == 1
    assert idx.find("EU agreed AI Act deal", NOW) == 1
    assert idx.find("EU fines Meta over AI | The Verge", NOW) == 2
    assert idx.find("EU fines Google over AI", NOW) is None
    assert idx.find("Something else entirely happened today", NOW) is None
    assert idx.find("", NOW) is None


def test_short_titles_only_match_exactly() -> None:
    idx: RecentTitles[str] = RecentTitles()
    idx.add("s1", "AI rules", NOW)
    assert idx.find("AI Rules!", NOW) == "s1"
    assert idx.find("AI rule", NOW) is None


def test_window_expires_old_titles() -> None:
    idx: RecentTitles[str] = RecentTitles(window=timedelta(hours=72))
    idx.add("old", "EU agrees AI Act deal", NOW - timedelta(hours=73))
    idx.add("new", "US tightens AI chip export rules", NOW - timedelta(hours=71))
    assert idx.find("EU agrees AI Act deal", NOW) is None
    assert idx.find("US tightens AI chip export rules", NOW) == "new"
    assert len(idx) == 1  # the old one was dropped, not just skipped
    idx.prune(NOW + timedelta(hours=2))
    assert len(idx) == 0


def test_size_is_bounded_and_the_oldest_go_first() -> None:
    idx: RecentTitles[int] = RecentTitles(max_size=3)
    titles = [
        "EU agrees AI Act deal",
        "US tightens AI chip export rules",
        "China sets rules for generative AI",
        "UK opens AI Safety Institute office",
    ]
    for i, t in enumerate(titles):
        idx.add(i, t, NOW - timedelta(minutes=10 - i))
    assert len(idx) == 3
    assert idx.find(titles[0], NOW) is None
    assert [idx.find(t, NOW) for t in titles[1:]] == [1, 2, 3]
    with pytest.raises(ValueError):
        RecentTitles(max_size=0)


def test_newest_story_wins_for_an_exact_key() -> None:
    idx: RecentTitles[str] = RecentTitles()
    idx.add("a", "EU agrees AI Act deal", NOW - timedelta(hours=5))
    idx.add("b", "EU agrees AI Act deal - Reuters", NOW - timedelta(hours=1))
    assert idx.find("EU agrees AI Act deal", NOW) == "b"


def test_best_match_is_returned() -> None:
    idx: RecentTitles[str] = RecentTitles()
    idx.add("close", "US tightens AI chip export rules", NOW - timedelta(hours=2))
    idx.add("closer", "US tightens AI chip export rules further", NOW - timedelta(hours=3))
    assert idx.find("US tightens AI chip export rules further - Reuters", NOW) == "closer"


def test_naive_datetimes_are_taken_as_utc() -> None:
    idx: RecentTitles[int] = RecentTitles()
    idx.add(7, "EU agrees AI Act deal", datetime(2026, 3, 1, 11, 0))
    assert idx.find("EU agrees AI Act deal", NOW) == 7
    assert idx.find("EU agrees AI Act deal", datetime(2026, 3, 1, 12, 0)) == 7


def _synthetic_titles(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    subjects = ["EU", "US", "UK", "China", "Japan", "India", "Brazil", "Canada", "Korea"]
    verbs = ["agrees", "rejects", "proposes", "delays", "debates", "adopts", "drafts"]
    objects = ["AI Act", "chip export rules", "AI safety law", "deepfake ban", "model audit"]
    words = [f"w{i}" for i in range(5000)]
    return [
        f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)} "
        f"{rng.choice(words)} {rng.choice(words)} {rng.choice(words)}"
        for _ in range(n)
    ]


def test_lookups_compare_against_few_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    titles = _synthetic_titles(50_000)
    idx: RecentTitles[int] = RecentTitles()
    for i, t in enumerate(titles):
        idx.add(i, t, NOW - timedelta(seconds=i))
    keys = [title_key(t) for t in titles]
    calls = 0
    real_same = dedup._same

    def counting_same(*args: object) -> bool:
        nonlocal calls
        calls += 1
        return real_same(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(dedup, "_same", counting_same)
    for i in (5, 17_000, 49_999):
        found = idx.find(titles[i] + " - Reuters", NOW)
        assert found is not None and keys[found] == keys[i]
        calls = 0
        # a near-identical variant goes through the fuzzy path, still over few candidates
        found = idx.find(titles[i].replace(" ", " the ", 1), NOW)
        assert found is not None and keys[found] == keys[i]
        assert 0 < calls <= RecentTitles._MAX_CANDIDATES
        calls = 0
        # one changed subject ("EU" -> "Mexico") is another story, and is not found
        other = "Mexico " + titles[i].split(" ", 1)[1]
        assert idx.find(other, NOW) is None
        assert calls <= RecentTitles._MAX_CANDIDATES
    calls = 0
    # words shared by thousands of titles still cost only a bounded number of comparisons
    assert idx.find("EU agrees AI Act today in Brussels", NOW) is None
    assert calls <= RecentTitles._MAX_CANDIDATES
    calls = 0
    assert idx.find("Completely unrelated words nobody has used before", NOW) is None
    assert calls == 0
