"""A company saying its product complies with the rules is no governance news; a regulator
saying so is. Japan's, Korea's and China's own cabinet and ministry words name the country."""

from __future__ import annotations

import pytest

from bot.classify import Classifier

# (lang, title): a product launch whose only governance word is the maker's compliance claim.
COMPLIANCE_TALK = [
    ("en", "Apple launches new AI model, says it complies with regulation"),
    ("en", "Apple launches new AI model, says it complies with AI rules"),
    ("en", "OpenAI rolls out new chatbot app, says it meets all regulatory requirements"),
    ("en", "Microsoft launches AI assistant for banks that follows financial regulations"),
    ("en", "Samsung launches AI phone it says complies with privacy regulation"),
    ("en", "Meta releases new AI model, says it complies with the AI Act"),
    ("en", "Startup launches AI tool that is fully compliant with GDPR"),
    ("es", "Telefónica lanza un nuevo modelo de IA y asegura que cumple con la normativa"),
    ("fr", "Mistral dévoile un nouveau modèle d'IA, conforme au règlement européen"),
    ("de", "SAP stellt neues KI-Modell vor, das den Vorschriften entspricht"),
    ("de", "SAP stellt neues KI-Modell vor: Es entspricht den Vorschriften"),
    ("zh", "百度发布新款AI大模型，称符合监管要求"),
    ("ja", "ソフトバンク、新AIモデルを発表 規制に準拠"),
]


@pytest.mark.parametrize(("lang", "title"), COMPLIANCE_TALK)
def test_company_compliance_claim_is_not_governance(clf: Classifier, lang: str, title: str) -> None:
    v = clf.classify(title, lang=lang)
    assert not v.relevant, (title, v.score)


# (title, a topic it must carry or ""): governments judging compliance, breaches, and
# launches held back by rules stay news (h070: "Apple to delay AI features in EU").
STILL_NEWS = [
    ("EU regulators say Apple's new AI model complies with the AI Act", "regulation"),
    ("European Commission says Meta's new AI assistant complies with EU rules", "regulation"),
    ("Regulator finds OpenAI's launch breached rules", ""),
    ("Apple delays AI launch in EU over Digital Markets Act rules", ""),
    ("Italy's privacy watchdog says DeepSeek does not comply with regulation", "regulation"),
    ("Companies must comply with new AI regulation from August", "regulation"),
    ("EU unveils AI code of practice to help businesses comply with bloc's rules", "regulation"),
    ("FTC says new AI chatbot launch violated consumer protection rules", ""),
]


@pytest.mark.parametrize(("title", "topic"), STILL_NEWS)
def test_governmental_compliance_news_stays_relevant(
    clf: Classifier, title: str, topic: str
) -> None:
    v = clf.classify(title, lang="en")
    assert v.relevant, (title, v.score)
    if topic:
        assert topic in v.topics


def test_compliance_context_yields_to_a_governmental_subject(clf: Classifier) -> None:
    # the same claim, said by a ministry rather than the maker
    assert clf.classify("政府、新AIモデルは規制に準拠と判断", lang="ja").relevant
    assert clf.classify("工信部称新款AI大模型符合监管要求", lang="zh").relevant


@pytest.mark.parametrize(
    ("lang", "title", "code"),
    [
        ("ja", "AI規制法案を閣議決定", "JP"),
        ("ja", "生成AI規制を閣議決定", "JP"),
        ("ja", "政府は閣議でAI規制の方針を了承した", "JP"),
        ("ja", "官房長官、AI規制の検討を表明", "JP"),
        ("ja", "内閣府、AI戦略を発表", "JP"),
        ("ja", "経産省、AI事業者ガイドラインを公表", "JP"),
        ("ja", "デジタル庁、生成AIの調達指針を策定", "JP"),
        ("ja", "個人情報保護委員会、生成AIに注意喚起", "JP"),
        ("ja", "AI法案が衆院を通過", "JP"),
        ("ko", "국무회의, AI 규제 방안 의결", "KR"),
        ("ko", "국무총리, AI 규제 강화 지시", "KR"),
        ("ko", "과기정통부, AI 기본법 시행령 입법예고", "KR"),
        ("ko", "방통위, 생성형 AI 이용자 보호 가이드라인 발표", "KR"),
        ("zh", "国务院印发人工智能+行动意见", "CN"),
        ("zh", "网信办发布生成式人工智能服务管理办法", "CN"),
        ("zh", "工信部发布人工智能标准体系建设指南", "CN"),
    ],
)
def test_national_government_terms_name_the_country(
    clf: Classifier, lang: str, title: str, code: str
) -> None:
    v = clf.classify(title, lang=lang)
    assert v.relevant
    assert v.jurisdictions == (code,), v.jurisdictions


def test_japanese_kokkai_stays_neutral(clf: Classifier) -> None:
    # 国会 is any country's parliament in Japanese news
    v = clf.classify("ベトナム国会、AI法を可決", lang="ja")
    assert v.relevant
    assert v.jurisdictions == ("VN",)
