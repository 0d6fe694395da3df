"""Behaviour of the default classifier: seeds, traps, languages, attribution, instruments."""

from __future__ import annotations

import pytest

from bot.classify import Classifier, get_classifier
from bot.verdict import TOPICS, Verdict


def test_get_classifier_is_cached() -> None:
    assert get_classifier() is get_classifier()


# --- the seed headlines and the must-nots ------------------------------------------------------


def test_seed_global_alliance(clf: Classifier) -> None:
    v = clf.classify(
        "China seeks global AI management alliance as US opts for solo strategy",
        "As artificial intelligence (AI) continues to reshape global industries, China has"
        " introduced a proposal for the creation of an international group dedicated to AI"
        " governance, an initiative aimed at promoting global collaboration on ethical standards,"
        " regulatory norms, and technological safety.",
        lang="en",
    )
    assert v.relevant
    assert set(v.jurisdictions) == {"CN", "US", "INTL"}
    assert v.topics[0] == "international-cooperation"


def test_seed_global_alliance_title_only(clf: Classifier) -> None:
    v = clf.classify("China seeks global AI management alliance as US opts for solo strategy")
    assert v.relevant
    assert {"CN", "US"} <= set(v.jurisdictions)
    assert "international-cooperation" in v.topics


def test_seed_national_ai_law(clf: Classifier) -> None:
    v = clf.classify(
        "DeepSeek and Alibaba researchers back China's AI regulatory framework, call for"
        " national AI law",
        "Researchers from artificial intelligence start-up DeepSeek and tech giant Alibaba Group"
        " Holding have lent their support to China's emerging AI regulatory framework, calling"
        " for clearer feedback in a paper published in the US journal Science.",
    )
    assert v.relevant
    assert v.jurisdictions == ("CN",)
    assert "legislation" in v.topics


@pytest.mark.parametrize(
    "title",
    [
        "Deep Learning Achieves 95% Accuracy in Identifying Microbial Life in Sub-Seafloor Samples",
        "Cornell Tech Secures $7M from NASA and Schmidt Sciences to Modernize arXiv Platform",
        "Google DeepMind Launches AI Research Lab in Singapore to Boost Regional Language Models",
        "Aston University Launches AI Research Platform to Enhance Business Intelligence",
    ],
)
def test_must_not_flag(clf: Classifier, title: str) -> None:
    assert not clf.classify(title).relevant


# --- traps ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "Shanghai and Dubai regulators said new rules on tariffs take effect",  # no AI in them
        "Ai Weiwei exhibition banned by authorities in the US",  # a name, not AI
        "Ai Fukuhara announces retirement from table tennis",
    ],
)
def test_ai_only_as_a_word_and_in_capitals(clf: Classifier, title: str) -> None:
    v = clf.classify(title)
    assert not any(e.rule == "ai" for e in v.evidence), v.evidence
    assert not v.relevant


def test_ia_and_ki_only_as_words(clf: Classifier) -> None:
    # "ia"/"ki" inside words (media, Kiel, Asia) are not AI
    v = clf.classify("Kiel media firms in Asia face new law on broadcasting", lang="de")
    assert not any(e.rule == "ai" for e in v.evidence)
    assert clf.classify("Bundestag beschließt KI-Gesetz", lang="de").relevant


def test_cjk_terms_match_inside_text(clf: Classifier) -> None:
    v = clf.classify("国务院印发关于加强人工智能监管的意见", lang="zh")
    assert v.relevant
    assert v.jurisdictions == ("CN",)


def test_ai_and_governance_far_apart_is_weaker(clf: Classifier) -> None:
    together = clf.classify("Senate passes AI bill", "The chamber voted on Tuesday.")
    apart = clf.classify(
        "Weekly tech roundup",
        "An AI start-up released a photo app. Separately, the city council voted on parking"
        " rules for the harbour district.",
    )
    assert together.relevant
    assert not apart.relevant
    assert apart.score < together.score


@pytest.mark.parametrize(
    "title,summary",
    [
        ("SAS leaves Star Alliance to join SkyTeam", "The airline alliance change takes effect."),
        ("Kroger, Walgreens create buying alliance", "US retailers form a purchasing group."),
        ("Miss Nightingale review: a one-act musical", "The second act drags in the West End."),
        ("NATO members promise defence spending at Brussels summit", ""),
        (
            "OpenAI releases GPT-5 to paid users",
            "The model tops benchmarks; regulators were"
            " briefed, the company said in its product launch.",
        ),
        (
            "Mayo Clinic AI flags pancreatic cancer years early",
            "Researchers validated an AI"
            " model on 2,000 CT scans in a study published in a journal.",
        ),
        (
            "Cerebras raises $1 billion at $23 billion valuation",
            "AI chipmaker Cerebras said it raised $1 billion in a late-stage funding round.",
        ),
        ("EU Parliament approves law on USB-C chargers", "The new law requires common ports."),
        (
            "Google is a monopolist in search, US judge rules",
            "The antitrust ruling follows a trial over search deals.",
        ),
        ("Trump signs executive order on border security", ""),
        ("Lay's to release 8 regional chip flavors", "New potato chips arrive in stores."),
    ],
)
def test_negative_traps(clf: Classifier, title: str, summary: str) -> None:
    v = clf.classify(title, summary, lang="en")
    assert not v.relevant, (title, v.score)


def test_negatives_do_not_veto_a_clear_policy_story(clf: Classifier) -> None:
    v = clf.classify(
        "Senate passes AI safety bill",
        "The bill, opposed by start-ups and investors, requires frontier model developers to"
        " publish safety frameworks.",
    )
    assert v.relevant


# --- every supported language ----------------------------------------------------------------

LANG_CASES = [
    (
        "en",
        "Congress passes bill to regulate artificial intelligence",
        "",
        "OpenAI unveils new ChatGPT app for iPhone users",
        "",
    ),
    (
        "zh",
        "国家网信办发布生成式人工智能服务管理暂行办法",
        "",
        "阿里巴巴发布新一代大模型 用户数突破一亿",
        "",
    ),
    ("ja", "政府、AI法案を閣議決定 国会に提出へ", "", "新しい生成AIアプリが登場、若者に人気", ""),
    ("ko", "AI 기본법 국회 본회의 통과", "", "삼성전자, 차세대 AI 반도체 신제품 라인업 공개", ""),
    (
        "es",
        "El Congreso aprueba la ley que regula la inteligencia artificial",
        "",
        "Startup de inteligencia artificial levanta 100 millones en una ronda de financiación",
        "",
    ),
    (
        "fr",
        "Le Parlement adopte la loi encadrant l'intelligence artificielle",
        "",
        "Mistral dévoile un nouveau modèle d'IA open source",
        "",
    ),
    (
        "de",
        "Bundesregierung bringt Gesetz zur KI-Aufsicht auf den Weg",
        "",
        "KI-Chatbots interpretieren Unsinn als sinnvoll, zeigt eine Studie",
        "",
    ),
    (
        "pt",
        "Senado aprova projeto de lei que regulamenta a inteligência artificial",
        "",
        "Inteligência artificial detecta câncer com 86% de precisão, diz estudo",
        "",
    ),
    (
        "it",
        "Il Senato approva la legge sull'intelligenza artificiale",
        "",
        "Nuova app di intelligenza artificiale conquista gli utenti",
        "",
    ),
]


@pytest.mark.parametrize("lang,pos,pos_sum,neg,neg_sum", LANG_CASES, ids=[c[0] for c in LANG_CASES])
def test_language_positive_and_negative(
    clf: Classifier, lang: str, pos: str, pos_sum: str, neg: str, neg_sum: str
) -> None:
    assert clf.classify(pos, pos_sum, lang=lang).relevant, pos
    assert not clf.classify(neg, neg_sum, lang=lang).relevant, neg


# --- jurisdiction attribution ------------------------------------------------------------------


def test_subject_not_mention(clf: Classifier) -> None:
    v = clf.classify(
        "What the EU AI Act means for American companies",
        "Brussels' rulebook applies to any firm selling AI systems in the bloc.",
    )
    assert v.jurisdictions[0] == "EU"
    assert "EU AI Act" in v.instruments


def test_china_proposal_is_cn_and_intl(clf: Classifier) -> None:
    v = clf.classify("China proposes a global AI cooperation organisation at UN meeting")
    assert set(v.jurisdictions) == {"CN", "INTL"}


def test_capital_metonyms(clf: Classifier) -> None:
    v = clf.classify("Beijing tightens rules on generative AI services")
    assert v.jurisdictions == ("CN",)
    v = clf.classify("Washington weighs new curbs on AI chip exports")
    assert v.jurisdictions[0] == "US"


def test_institutions_give_jurisdiction(clf: Classifier) -> None:
    assert clf.classify("CAC issues draft rules for AI-generated content labels").jurisdictions == (
        "CN",
    )
    assert clf.classify("NIST releases AI risk guidance").jurisdictions == ("US",)
    assert clf.classify("DSIT opens consultation on AI copyright").jurisdictions == ("GB",)


def test_hints_are_weak(clf: Classifier) -> None:
    # No place in the text: the hint fills in.
    v = clf.classify("Parliament passes AI bill", hints=["NZ"])
    assert v.jurisdictions == ("NZ",)
    # The text names the subject: a feed hint does not displace it.
    v = clf.classify("Japan passes AI bill", hints=["US"])
    assert v.jurisdictions[0] == "JP"
    assert any(e.rule == "hint" for e in v.evidence)


def test_colorado_ai_act_is_not_the_eu_ai_act(clf: Classifier) -> None:
    v = clf.classify("Colorado AI Act takes effect after delay")
    assert "Colorado AI Act (SB 24-205)" in v.instruments
    assert "EU AI Act" not in v.instruments
    assert v.jurisdictions == ("US",)


# --- instruments in original-language names ----------------------------------------------------


@pytest.mark.parametrize(
    "title,lang,instrument,code",
    [
        ("欧盟人工智能法案正式生效", "zh", "EU AI Act", "EU"),
        (
            "《生成式人工智能服务管理暂行办法》施行一周年",
            "zh",
            "China Interim Measures for Generative AI Services",
            "CN",
        ),
        (
            "《人工智能生成合成內容標識辦法》正式施行",
            "zh",
            "China Measures for Labelling AI-Generated Synthetic Content",
            "CN",
        ),
        ("인공지능 기본법 시행령 입법예고", "ko", "Korea AI Basic Act", "KR"),
        ("AI推進法が成立、基本計画策定へ", "ja", "Japan AI Promotion Act", "JP"),
        ("Unternehmen bereiten sich auf die KI-Verordnung vor", "de", "EU AI Act", "EU"),
        ("Lo que cambia con la Ley de IA europea", "es", "EU AI Act", "EU"),
        ("Ce que change le règlement sur l'IA pour les PME", "fr", "EU AI Act", "EU"),
        ("Marco Legal da IA volta à pauta da Câmara", "pt", "Brazil AI Bill (PL 2338/2023)", "BR"),
    ],
)
def test_original_language_instruments(
    clf: Classifier, title: str, lang: str, instrument: str, code: str
) -> None:
    v = clf.classify(title, lang=lang)
    assert instrument in v.instruments
    assert code in v.jurisdictions
    assert v.relevant


# --- output shape ------------------------------------------------------------------------------


def test_verdict_shape_and_round_trip(clf: Classifier) -> None:
    v = clf.classify("FTC fines AI company over deceptive claims", "The regulator said...")
    assert 0.0 <= v.score <= 1.0
    assert all(t in TOPICS for t in v.topics)
    assert "enforcement-litigation" in v.topics
    assert Verdict.from_dict(v.to_dict()) == v
    rules = {e.rule for e in v.evidence}
    assert {"ai", "score"} <= rules


def test_empty_and_none_inputs(clf: Classifier) -> None:
    v = clf.classify("", "")
    assert not v.relevant and v.score == 0.0
    v = clf.classify("AI law", None, lang=None)  # type: ignore[arg-type]
    assert v.relevant


def test_lone_surrogates_do_not_break_classification(clf: Classifier) -> None:
    # JSON input may hold "\ud800": no character, and not encodable; the rest still counts.
    titles = ("国务院发布人工智能法草案\ud800", "\udc00AI law passed", "AI 法 \ud800 人工智能法")
    for title in titles:
        plain = clf.classify(title.replace("\ud800", " ").replace("\udc00", " "))
        v = clf.classify(title, "\ud800")
        assert v.relevant and v.relevant == plain.relevant, title
        assert v.jurisdictions == plain.jurisdictions and v.topics == plain.topics


def test_threshold_controls_relevance() -> None:
    strict = Classifier.load(threshold=0.99)
    lax = Classifier.load(threshold=0.05)
    title = "Minister discusses AI at a conference"
    assert strict.classify(title).score == lax.classify(title).score
    assert not strict.classify(title).relevant
    assert lax.classify(title).relevant


def test_bad_threshold() -> None:
    with pytest.raises(ValueError):
        Classifier.load(threshold=1.5)


# --- attribution: which mentioned place is at stake ------------------------------------------


def test_listed_countries_all_count(clf: Classifier) -> None:
    # "Australia and", "the UK and": a conjunction after a name is no modifier
    v = clf.classify(
        "Forty countries sign AI declaration at Rome summit",
        "Countries including Brazil, Japan, Australia and Canada signed the declaration at the"
        " AI summit hosted by Italy.",
    )
    assert {"INTL", "IT", "BR", "JP", "AU", "CA"} <= set(v.jurisdictions)


def test_place_before_a_described_noun_is_weak(clf: Classifier) -> None:
    v = clf.classify(
        "Japan passes AI law",
        "The law was welcomed by U.S. tech giants and by researchers writing in the US journal"
        " Science.",
    )
    assert v.jurisdictions == ("JP",)


def test_demonym_counts_next_to_government(clf: Classifier) -> None:
    v = clf.classify("Dutch watchdog fines facial recognition firm over AI database")
    assert v.jurisdictions == ("NL",)
    v = clf.classify(
        "Spain's regulator blocks Chinese AI app",
        "The Spanish data protection agency blocked the Chinese artificial intelligence app.",
    )
    assert "ES" in v.jurisdictions and "CN" not in v.jurisdictions


def test_yardstick_is_not_at_stake(clf: Classifier) -> None:
    v = clf.classify("Vietnam passes AI law, the first country after the EU in Asia")
    assert "VN" in v.jurisdictions and "EU" not in v.jurisdictions
    v = clf.classify("Italy becomes first EU country to pass a comprehensive AI law")
    assert "IT" in v.jurisdictions and "EU" not in v.jurisdictions


def test_venue_is_not_at_stake(clf: Classifier) -> None:
    v = clf.classify("US and China envoys meet in Geneva for talks on AI risks")
    assert set(v.jurisdictions) == {"US", "CN"}
    assert "international-cooperation" in v.topics


def test_cjk_false_friends(clf: Classifier) -> None:
    # Japanese 参議院 (Japan's upper house) folds to Chinese 参议院 (the US Senate)
    v = clf.classify("AI法が参議院本会議で可決、成立", lang="ja")
    assert v.jurisdictions == ("JP",)
    # 联合国家... ("together with the national...") is not 联合国 (the UN)
    v = clf.classify("网信办联合国家发展改革委发布人工智能管理办法", lang="zh")
    assert v.jurisdictions == ("CN",)
    # 成立 is "founded" in Chinese, "enacted" in Japanese
    v = clf.classify("中方倡议成立世界人工智能合作组织", lang="zh")
    assert "legislation" not in v.topics


# --- topics: specific cues decide ---------------------------------------------------------------


def test_generic_topic_cues_yield_to_specific_ones(clf: Classifier) -> None:
    assert clf.classify("State senate passes bill regulating artificial intelligence").topics == (
        "legislation",
    )
    v = clf.classify("US restricts exports of advanced AI chips to China")
    assert v.topics == ("export-controls",)
    v = clf.classify("Privacy watchdog fines AI chatbot maker over data breach")
    assert v.topics == ("enforcement-litigation",)
    # alone, a generic cue still gives its topic
    assert clf.classify("Government moves to regulate AI chatbots").topics == ("regulation",)


def test_multilateral_items_are_cooperation(clf: Classifier) -> None:
    v = clf.classify("UN General Assembly adopts resolution on artificial intelligence")
    assert "INTL" in v.jurisdictions
    assert v.topics[0] == "international-cooperation"
    # cooperation words need partners: one jurisdiction agreeing on its own law is legislation
    v = clf.classify("EU agrees deal on landmark AI law")
    assert "international-cooperation" not in v.topics
