"""The classifier: lexicon matches -> relevance score, jurisdictions, topics, instruments.

Each step has its module: rules (lexicon entries -> compiled rules), matcher (the text's
matches), kernel (one pass over them: hits, evidence, per-sentence evidence), relevance,
jurisdictions, topics (with the table of how topics settle), instruments and evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.classify import kernel
from bot.classify.entries import Lexicon
from bot.classify.evidence import hint_evidence, score_evidence
from bot.classify.instruments import instruments
from bot.classify.jurisdictions import jurisdictions, nouns
from bot.classify.lexicon import load_lexicon
from bot.classify.matcher import Matcher
from bot.classify.relevance import DEFAULT_THRESHOLD, Relevance, relevance
from bot.classify.rules import compile_rule, pycountry_entries, weak_terms
from bot.classify.topics import in_context, topics
from bot.lang import normalise_language
from bot.verdict import Evidence, Verdict

__all__ = ["DEFAULT_THRESHOLD", "Classifier"]


class Classifier:
    """Pure, stateless after load: safe to share between threads."""

    def __init__(self, lexicon: Lexicon, threshold: float = DEFAULT_THRESHOLD) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        self.lexicon = lexicon
        self.threshold = threshold
        self.matcher = Matcher(lexicon, compile_rule)
        self._nouns = nouns(lexicon.modified_nouns)
        self._weak_terms = weak_terms(lexicon)

    @classmethod
    def load(
        cls, extra_lexicons: Sequence[Path] = (), threshold: float | None = None
    ) -> Classifier:
        """The shipped lexicon plus `extra_lexicons`, and pycountry's place names."""
        lex = load_lexicon(extra_lexicons)
        lex.entries.extend(pycountry_entries(lex))
        return cls(lex, DEFAULT_THRESHOLD if threshold is None else threshold)

    def classify(
        self,
        title: str | None,
        summary: str | None = "",
        lang: str | None = None,
        hints: Sequence[str] = (),
    ) -> Verdict:
        """The verdict on one item: `lang` (a language tag) picks language-specific terms,
        `hints` are the feed's jurisdiction codes."""
        title = title or ""
        summary = summary or ""
        found = self.matcher.candidates(title, summary, normalise_language(lang))
        scan = kernel.scan(found, title, summary, self._weak_terms)
        rel = relevance(
            scan.segments, scan.compute_cue, scan.q_neg_title, scan.q_neg_summary, self.threshold
        )
        evidence = scan.evidence + score_evidence(rel)
        places, about = self._tags(scan, rel, evidence, title, summary, hints)
        named = instruments(scan.instruments, self.lexicon.instruments)
        return Verdict(rel.relevant, rel.score, places, about, named, tuple(evidence))

    def _tags(
        self,
        scan: kernel.Scan,
        rel: Relevance,
        evidence: list[Evidence],
        title: str,
        summary: str,
        hints: Sequence[str],
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(jurisdictions, topics). They describe AI-governance news: relevant items and near
        misses have them; other items have none, as the labels define them. The hints are
        recorded in the evidence either way."""
        if not rel.tagged:
            hint_evidence(hints, evidence)
            return (), ()
        places = jurisdictions(
            scan.jur_hits,
            evidence,
            scan.n_hits,
            rel.seg_ai,
            rel.seg_gov,
            hints,
            title,
            summary,
            self._nouns,
        )
        topic_hits = scan.topic_hits
        if scan.contexts or scan.near_cues:
            topic_hits = in_context(topic_hits, scan.contexts, scan.segments, scan.seg_actor)
        return places, topics(topic_hits, rel.relevant, places)
