"""Language detection: one model per process whoever asks first, and a feed's usual language
kept without the model when the text agrees with it (and only then)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from bot.ingest import lang

ENGLISH = (
    "The European Parliament approved the AI Act on Wednesday. The law sets rules for"
    " high-risk systems and bans some uses of facial recognition by the police."
)
FRENCH = (
    "Le Parlement européen a adopté la loi sur l'intelligence artificielle. Le texte fixe des"
    " règles pour les systèmes à haut risque et interdit certains usages."
)
RUSSIAN = "Правительство приняло закон об искусственном интеллекте и новые правила для компаний"
NOUNS = "Government ministry draft rules artificial intelligence regulation market data privacy"


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> Any:
        raise AssertionError("the model was asked")

    monkeypatch.setattr(lang, "_identifier", refuse)


def test_threads_racing_build_one_model(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []
    real = lang._load_model

    def slow_load() -> Any:
        time.sleep(0.05)  # widen the window in which a second builder would start
        built.append(object())
        return real()

    monkeypatch.setattr(lang, "_model", None)
    monkeypatch.setattr(lang, "_load_model", slow_load)
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(lang._identifier())) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1
    assert len(got) == 6 and all(g is got[0] for g in got)


@pytest.mark.usefixtures("no_model")
def test_the_usual_language_is_kept_without_the_model_when_the_text_agrees() -> None:
    assert lang.detect_language(ENGLISH, usual="en") == "en"
    assert lang.detect_language(FRENCH, usual="fr") == "fr"
    assert lang.detect_language(RUSSIAN, usual="ru") == "ru"
    # Names and nouns only: no other language's words, the usual one's script.
    assert lang.detect_language(NOUNS, usual="en") == "en"
    assert lang.detect_language("欧盟人工智能法案正式生效", usual="en") == "zh"  # the script


def test_text_in_another_language_goes_to_the_model() -> None:
    assert lang.detect_language(FRENCH, usual="en") == "fr"
    assert lang.detect_language(ENGLISH, usual="de") == "en"
    assert lang.detect_language(RUSSIAN, usual="en") == "ru"
    assert not lang.confirms(NOUNS, "ru")  # Latin letters are not Russian text
    assert not lang.confirms(NOUNS, "sw")  # no function words known: never confirmed
    assert not lang.confirms("AI Act", "en")  # too short to say


def test_without_a_usual_language_the_answers_are_the_models() -> None:
    for text in (ENGLISH, FRENCH, RUSSIAN, NOUNS, "EU fines Meta", ""):
        assert lang.detect_language(text) == lang.detect_language(text, usual=None)
    assert lang.detect_language(ENGLISH) == "en"
    assert lang.detect_language("EU fines Meta") is None


def test_the_model_read_with_views_scores_as_the_librarys_own_loader() -> None:
    """bot.ingest.lang reads py3langid's model file itself (numpy arrays seen through
    memoryviews instead of copies into lists): every language's score must be the same."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ours = lang._load_model()
    assert isinstance(ours.tk_nextmove, memoryview)  # our reader, not the fallback
    theirs = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    theirs.set_languages(list(lang.DETECTABLE_LANGUAGES))
    texts = [
        "The European Parliament adopted the artificial intelligence act on Wednesday",
        "La Commission européenne publie des lignes directrices sur les modèles d'IA",
        "Die Bundesregierung beschließt neue Regeln für künstliche Intelligenz",
        "El gobierno presentó un proyecto de ley sobre inteligencia artificial",
        "Правительство утвердило концепцию регулирования искусственного интеллекта",
        "Pemerintah menerbitkan pedoman etika kecerdasan artifisial",
        "中国发布人工智能安全治理框架",
        "x",
        "",
    ]
    for text in texts:
        assert ours.rank(text) == theirs.rank(text), text
