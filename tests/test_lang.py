"""bot.lang.normalise_language, the one language-tag normaliser, and the places that use it."""

from __future__ import annotations

from pathlib import Path

import pycountry
import pytest

from bot.lang import ISO_639_1, normalise_language


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        # ISO 639-1 codes, with region, script and variant subtags, any case, _ or -
        ("en", "en"), ("en-US", "en"), ("EN_gb", "en"), ("pt-BR", "pt"), ("zh-Hant-TW", "zh"),
        ("zh-CN", "zh"), ("es-419", "es"), (" fr ", "fr"),
        # ISO 639-2/3 codes (terminology and bibliographic) -> 639-1 where there is one
        ("eng", "en"), ("fra", "fr"), ("fre", "fr"), ("zho", "zh"), ("chi", "zh"),
        ("deu", "de"), ("ger", "de"), ("jpn", "ja"), ("tgl", "tl"),
        # ... and the 639-3 code where there is none: Filipino is not Finnish
        ("fil", "fil"), ("fil-PH", "fil"), ("yue", "yue"),
        # withdrawn codes, and Norwegian's written standards taken as Norwegian
        ("iw", "he"), ("in", "id"), ("nb-NO", "no"), ("nn", "no"), ("nob", "no"),
        # names
        ("English", "en"), ("Chinese", "zh"), ("Filipino", "fil"), ("français", "fr"),
        # no language
        ("", None), (None, None), ("   ", None), ("x", None), ("xx", None), ("qqq", None),
        ("not a tag", None), ("und", None), ("mul", None), ("zxx", None), ("x-private", None),
        ("i-klingon", None), ("e1", None),
    ],
)  # fmt: skip
def test_normalise_language(tag: str | None, expected: str | None) -> None:
    assert normalise_language(tag) == expected


def test_every_two_letter_code_is_known_without_the_table() -> None:
    assert {lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2")} == ISO_639_1


def test_every_three_letter_code_with_a_two_letter_one_maps_to_it() -> None:
    folded = {"nb": "no", "nn": "no"}
    for lang in pycountry.languages:
        if hasattr(lang, "alpha_2"):
            want = folded.get(lang.alpha_2, lang.alpha_2)
            assert normalise_language(lang.alpha_3) == want, lang
            assert normalise_language(lang.alpha_2) == want, lang


def test_the_other_normalisers_agree() -> None:
    from bot.core.vocab import resolve_language
    from bot.ingest.lang import normalise_language_tag

    for tag in ("fil", "fre", "chi", "zh-Hant-TW", "pt-BR", "English", "xx", "und", "nb-NO"):
        assert normalise_language_tag(tag) == normalise_language(tag), tag
        assert resolve_language(tag).value == normalise_language(tag), tag


def test_feed_config_takes_codes_not_names(tmp_path: Path) -> None:
    from bot.app.config import FeedConfig

    def language(value: str) -> str | None:
        return FeedConfig(name="f", url="https://x.example/feed", language=value).language

    assert language("zh-Hant-TW") == "zh"
    assert language("fil") == "fil"
    assert language("fre") == "fr"
    for bad in ("English", "xx", "und"):
        with pytest.raises(ValueError, match="not a language code"):
            language(bad)


def test_the_classifier_reads_filipino_as_filipino(tmp_path: Path) -> None:
    from bot.classify import Classifier

    extra = tmp_path / "fi.yaml"
    extra.write_text(
        "ai:\n  - terms: [tekoälyvirasto]\n    lang: fi\n"
        "  - terms: [ahensiyang]\n    lang: fil-PH\n",  # a lexicon's tags are read alike
        encoding="utf-8",
    )
    clf = Classifier.load(extra_lexicons=[extra])

    def terms(lang: str) -> list[str]:
        v = clf.classify("tekoälyvirasto ahensiyang", lang=lang)
        return [e.term for e in v.evidence]

    assert terms("fi") == terms("fin") == terms("fi-FI") == ["tekoälyvirasto"]
    assert terms("fil") == terms("Filipino") == ["ahensiyang"]  # Filipino, not Finnish


def test_a_lexicon_language_is_a_code(tmp_path: Path) -> None:
    from bot.classify import Classifier, LexiconError

    extra = tmp_path / "bad.yaml"
    extra.write_text("ai:\n  - terms: [tekoäly]\n    lang: Finnish\n", encoding="utf-8")
    with pytest.raises(LexiconError, match="not a language code"):
        Classifier.load(extra_lexicons=[extra])
