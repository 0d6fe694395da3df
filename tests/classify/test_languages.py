"""The eight added languages, the officials gazetteer and the trade/markets vocabulary: every
group's example headlines match the group, its `not` headlines are not AI-governance news, and
institutions, leaders and parliaments name the jurisdiction that acts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.classify import Classifier
from bot.classify.lexicon import DATA_DIR, read_yaml

_FILES = [
    *sorted(DATA_DIR.glob("lang_*.yaml")),
    DATA_DIR / "officials.yaml",
    DATA_DIR / "trade_markets.yaml",
]
_GROUP_SECTIONS = (
    "ai", "compute", "governance", "ai_governance", "topics", "actors", "negative",
    "neutral", "institutions", "instruments", "context",
)  # fmt: skip


def _groups() -> list[tuple[Path, str, dict[str, Any]]]:
    out = []
    for path in _FILES:
        data = read_yaml(path)
        for section in _GROUP_SECTIONS:
            for g in data.get(section) or ():
                out.append((path, section, g))
    return out


def _lang(path: Path, group: dict[str, Any]) -> str | None:
    langs = group.get("lang")
    if langs:
        return str(langs[0])
    return path.stem.removeprefix("lang_") if path.stem.startswith("lang_") else None


_GROUPS = _groups()


def test_every_group_has_an_id_unique_in_its_file_and_an_example() -> None:
    seen: dict[Path, set[str]] = {}
    for path, section, g in _GROUPS:
        gid = g.get("id")
        assert gid, f"{path.name}: a group in {section} has no id"
        assert g.get("examples"), f"{path.name}: {gid} has no examples"
        if section != "instruments":  # an instrument's id names the instrument, in any file
            assert gid not in seen.setdefault(path, set()), f"{path.name}: {gid} twice"
            seen[path].add(gid)


@pytest.mark.parametrize(
    ("path", "group"),
    [(p, g) for p, _, g in _GROUPS],
    ids=[f"{p.stem}:{g.get('id')}" for p, _, g in _GROUPS],
)
def test_examples_match_their_group(clf: Classifier, path: Path, group: dict[str, Any]) -> None:
    lang = _lang(path, group)
    for headline in group["examples"]:
        # every match, also those a longer term shadows ("قانون الذكاء الاصطناعي" holds
        # "الذكاء الاصطناعي"): the example shows the term, the verdict is the engine's
        spans = clf.matcher.candidates(headline, "", lang).spans
        assert any(span[3].ident == group["id"] for span in spans), (
            f"{path.name}: {group['id']}: no term of the group in {headline!r}"
        )
    for headline in group.get("not") or ():
        assert not clf.classify(headline, "", lang=lang).relevant, headline


@pytest.mark.parametrize(
    ("title", "lang", "code"),
    [
        ("Sejm uchwalił ustawę o systemach sztucznej inteligencji", "pl", "PL"),
        ("Yapay zekâ kanun teklifi TBMM Başkanlığına sunuldu", "tr", "TR"),
        ("Госдума приняла закон о регулировании искусственного интеллекта", "ru", "RU"),
        ("Quốc hội thông qua Luật Trí tuệ nhân tạo", "vi", "VN"),
        ("लोकसभा में एआई पर विधेयक पेश", "hi", "IN"),
        ("سدايا تطلق إطار حوكمة الذكاء الاصطناعي", "ar", "SA"),
        ("Autoriteit Persoonsgegevens start onderzoek naar AI-chatbot", "nl", "NL"),
        ("Komdigi targetkan Perpres kecerdasan artifisial terbit tahun ini", "id", "ID"),
        ("Kristersson wants a pause in the rollout of AI rules", "en", "SE"),
    ],
)
def test_a_national_body_or_leader_names_its_jurisdiction(
    clf: Classifier, title: str, lang: str, code: str
) -> None:
    v = clf.classify(title, "", lang=lang)
    assert v.relevant
    assert v.jurisdictions == (code,)


def test_a_hong_kong_body_in_traditional_chinese_is_hong_kong_not_china(clf: Classifier) -> None:
    v = clf.classify("私隱專員公署發布人工智能個人資料保障指引", "", lang="zh")
    assert v.relevant
    assert v.jurisdictions == ("HK",)


def test_the_regulator_that_acts_is_the_jurisdiction_not_the_firm_origin(
    clf: Classifier,
) -> None:
    v = clf.classify(
        "Autoriteit Persoonsgegevens legt het Amerikaanse bedrijf Clearview AI een boete op",
        "",
        lang="nl",
    )
    assert v.relevant
    assert v.jurisdictions == ("NL",)


def test_a_feed_hint_fills_in_when_the_text_names_no_country(clf: Classifier) -> None:
    title = "Parliament passes artificial intelligence bill"
    assert clf.classify(title, "", lang="en").jurisdictions == ()
    assert clf.classify(title, "", lang="en", hints=["KE"]).jurisdictions == ("KE",)


def test_jurisdiction_names_from_several_files_add_up(tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    a.write_text("jurisdictions:\n  PL:\n    names: [Ruritanska]\n", encoding="utf-8")
    b.write_text("jurisdictions:\n  PL:\n    names: [Bordurska]\n", encoding="utf-8")
    c = Classifier.load(extra_lexicons=[a, b])
    for place in ("Ruritanska", "Bordurska", "Poland"):
        v = c.classify(f"{place} parliament passes artificial intelligence law", "", lang="en")
        assert v.jurisdictions == ("PL",), place
