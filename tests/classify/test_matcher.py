"""The matcher's contract: whole words for Latin scripts, substrings for CJK, exact offsets."""

from __future__ import annotations

from bot.classify import Classifier


def _terms(clf: Classifier, title: str, summary: str = "", lang: str | None = None) -> set[str]:
    return {h.entry.term for h in clf.matcher.scan(title, summary, lang)}


def test_boundaries_punctuation_and_mixed_scripts(clf: Classifier) -> None:
    assert "U.S." in _terms(clf, "The U.S. acts on chips")
    assert "AI" in _terms(clf, "政府はAIを使う", lang="ja")  # kana next to Latin is a boundary
    assert "AI" in _terms(clf, "(AI), «AI», AI-driven, AI's")
    assert "AI" not in _terms(clf, "Shanghai said Dubai's AIDS plan")
    # Arabic comma after a term is a boundary too (terms are stored with hamza forms folded to
    # a bare alef, as lang_ar.yaml's char_map folds them in text: "اشباه" matches "أشباه")
    assert "اشباه الموصلات" in _terms(clf, "صناعة أشباه الموصلات، إلى")
    assert "اشباه الموصلات" in _terms(clf, "صناعة اشباه الموصلات، إلى")
    # Devanagari vowel signs belong to the word: "बैन" (ban) is not "बनाई" (made)
    assert "बैन" in _terms(clf, "एआई ऐप्स पर बैन", lang="hi")
    assert "बैन" not in _terms(clf, "मिलकर बनाई कंपनी", lang="hi")


def test_offsets_point_at_the_original_text(clf: Classifier) -> None:
    title = "“China’s” ＡＩ rules"
    summary = "Full-width ＡＩ and 人工智慧 in one sentence. Then the EU."
    for h in clf.matcher.scan(title, summary):
        source = title if h.field == "title" else summary
        assert source[h.start : h.end] == h.text
    segs = {h.text: h.segment for h in clf.matcher.scan(title, summary)}
    assert segs["EU"] == 2 and segs["人工智慧"] == 1


def test_hostile_input_stays_correct(clf: Classifier) -> None:
    # Long runs without letters, control characters and mixed scripts: no error, no match.
    junk = "9" * 20000 + "中" + "\x00\x07" * 500 + "-" * 5000
    v = clf.classify(junk, junk)
    assert not v.relevant
    v = clf.classify("AI law " + junk)
    assert v.relevant


def test_no_match_across_title_and_summary(clf: Classifier) -> None:
    # the newline between them is a space in the word view: a key with a space must not span it
    hits = clf.matcher.scan("Berlin after the EU", "KI-Gesetz tritt in Kraft")
    assert all(h.end <= len("Berlin after the EU") for h in hits if h.field == "title")
    assert "EU-KI-Gesetz" not in {h.entry.term for h in hits}


def test_latin_key_after_glued_hangul_is_no_word_start(clf: Classifier) -> None:
    # Korean spaces its words: "오픈AI" is one word (OpenAI), so "AI 전략" does not start in it
    assert "AI 전략" not in _terms(clf, "카카오-오픈AI 전략적 제휴", lang="ko")
    assert "AI 전략" in _terms(clf, "정부, AI 전략 발표", lang="ko")
    assert "AI戦略" in _terms(clf, "政府のAI戦略を決定", lang="ja")  # kana before it: a boundary


def test_bill_abbreviations_need_a_number(clf: Classifier) -> None:
    assert "SB 9" in _terms(clf, "California passes SB 942 on AI detection")
    assert "HB-1" in _terms(clf, "Texas HB-149 on AI")
    assert not {"SB", "SB 0"} & _terms(clf, "合弁会社「SB OpenAI Japan」を設立")


def test_greek_sigma_and_accents_fold_alike(clf: Classifier) -> None:
    # Σ lowers to ς or σ depending on its place (and on the build): both sigmas fold to one,
    # and capitals written without their accent match the accented term.
    for text in ("Μητσοτάκης", "ΜΗΤΣΟΤΑΚΗΣ", "ΜΗΤΣΟΤΆΚΗΣ", "ο μητσοτακης", "ΜΗΤΣΟΤΑΚΗΣ:"):
        assert "Μητσοτακης" in _terms(clf, f"{text} για την AI"), text
    _, low = clf.matcher.normalise("ΝΟΜΟΣ νόμος ΣΟΣ")
    assert "ς" not in low and low == "νομοσ νομοσ σοσ"


def test_a_word_several_languages_list_counts_once(clf: Classifier) -> None:
    # "tribunal" is an enforcement word in the Spanish, Portuguese and French groups, each with
    # its own weight: one match is one piece of evidence, at the strongest weight
    listed = [e for e in clf.lexicon.entries if e.key == "tribunal" and e.kind == "governance"]
    assert len({e.weight for e in listed}) > 1
    hits = [
        h
        for h in clf.matcher.scan("Un tribunal condena a una empresa de IA", "")
        if h.text == "tribunal"
    ]
    assert len(hits) == 1 and hits[0].entry.weight == max(e.weight for e in listed)
