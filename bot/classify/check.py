"""`policybot lexicon check`: what makes a lexicon hard to keep, found before it misleads.

- conflicts: one surface form in two groups with roles that contradict (evidence for AI or
  governance in one, a negative or a neutral shadow in the other): both match the same span,
  so the item gets both readings;
- unreachable entries: a term that its own words do not find, because an earlier entry with
  the same meaning took its place or a longer term covers it;
- groups without examples, and examples that do not do what they say: each `examples:`
  headline must yield the group's evidence, each `not:` headline must not;

(A context term that contains a governance term is refused when the lexicon loads.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.classify.engine import Classifier
from bot.classify.entries import Entry, Group

# Which way a match pushes the verdict, by kind. Kinds not listed (topic, context) only
# qualify other evidence and contradict nothing.
_EVIDENCE = frozenset(
    {"ai", "compute", "governance", "ai_governance", "institution", "instrument", "actor"}
)
# Role pairs that contradict on one span. A needs-actor word that is also a negative
# ("launches": a product launch unless a government launches it) is two readings on purpose,
# and a neutral shadow that is also a negative still shadows the shorter term inside it.
_CONTRADICT = {frozenset({"evidence", "negative"}), frozenset({"evidence", "neutral"})}


def _role(e: Entry) -> str:
    if e.kind in _EVIDENCE:
        return "" if e.needs_actor else "evidence"
    return e.kind if e.kind in ("negative", "neutral") else ""


PROBLEM_KINDS = ("conflict", "unreachable", "no-examples", "example", "not-example")


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str  # one of PROBLEM_KINDS
    group: str  # "file: section[i] (id x)"
    message: str
    source: str = ""  # the group's file

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "group": self.group, "message": self.message}


def _problem(kind: str, g: Group, message: str) -> Problem:
    return Problem(kind, g.where, message, g.source)


def _surface(e: Entry) -> tuple[str, bool, bool]:
    return (e.key, e.left, e.right)


def _overlap(a: Entry, b: Entry) -> bool:
    """Can the two entries match the same text in the same item?"""
    if a.case and b.case and a.term != b.term:
        return False
    return not (a.langs and b.langs and not set(a.langs) & set(b.langs))


def conflicts(groups: Iterable[Group]) -> list[Problem]:
    seen: dict[tuple[str, bool, bool], list[tuple[Group, Entry]]] = {}
    out: list[Problem] = []
    for g in groups:
        reported: set[str] = set()
        for e in g.entries:
            role = _role(e)
            if not role:
                continue
            for other_g, other in seen.get(_surface(e), ()):
                other_role = _role(other)
                if (
                    frozenset({role, other_role}) in _CONTRADICT
                    and e.key not in g.ambiguous
                    and e.key not in other_g.ambiguous
                    and _overlap(e, other)
                    and e.key not in reported
                ):
                    reported.add(e.key)
                    out.append(
                        _problem(
                            "conflict",
                            g,
                            f"{e.term!r} is {role} here ({g.kind}) and {other_role}"
                            f" ({other_g.kind}) in {other_g.where}: both match the same words,"
                            " so an item gets both readings; keep it in one group (a word that"
                            " is policy only next to a government takes `needs_actor: true`;"
                            " a word with both meanings goes in one group's `ambiguous:`)",
                        )
                    )
            seen.setdefault(_surface(e), []).append((g, e))
    return out


def unreachable(clf: Classifier, groups: Iterable[Group]) -> list[Problem]:
    """Entries that the matcher does not report on their own words: another entry of the
    group with the same words takes their place (hyphens, dots and spaces match alike, and
    so do upper and lower case unless the group sets `case`), a longer term covers them, or
    nothing finds them (a language or script the item never has). The same term in two
    groups with the same meaning counts once by design (languages share words: "decreto"),
    so it is not reported."""
    out: list[Problem] = []
    for g in groups:
        mine = {id(e) for e in g.entries}
        for e in g.entries:
            lang = e.langs[0] if e.langs else None
            hits = clf.matcher.scan(e.term, "", lang)
            if any(h.entry is e for h in hits):
                continue
            whole = [h for h in hits if h.start == 0 and h.end == len(e.term)]
            same = [h for h in whole if h.entry.kind == e.kind]
            if same and not any(id(h.entry) in mine for h in same):
                continue  # the same word with the same meaning in another group
            if same:
                why = f"the same words as {same[0].entry.term!r} earlier in the group: drop one"
            elif hits:
                longest = max(hits, key=lambda h: h.end - h.start)
                why = f"the longer term {longest.entry.term!r} ({longest.entry.kind}) covers it"
            else:
                why = "its own words do not match it (language, script or case)"
            out.append(_problem("unreachable", g, f"{e.term!r}: {why}"))
    return out


def example_lang(g: Group) -> str | None:
    """The language an example of the group is read in: the group's own, if it has one."""
    return g.langs[0] if g.langs else None


def yields(clf: Classifier, g: Group, headline: str) -> bool:
    """Does the headline, classified, carry evidence from one of the group's terms? A term
    that matches inside a longer term of another group counts too: the example shows the
    term, and the longer one taking precedence is the lexicon working ("قانون الذكاء
    الاصطناعي", an AI law, holds "الذكاء الاصطناعي", AI)."""
    mine = {(e.kind, e.term) for e in g.entries}
    kind = "instrument" if g.kind == "instrument" else g.kind
    lang = example_lang(g)
    v = clf.classify(headline, "", lang=lang)
    if any((e.rule, e.term) in mine for e in v.evidence if e.rule == kind):
        return True
    if g.kind == "instrument":
        return False  # an instrument's example must name it in the verdict
    spans = clf.matcher.candidates(headline, "", lang).spans
    return any((getattr(sp[3], "kind_name", None), sp[3].term) in mine for sp in spans)


def misleads(clf: Classifier, g: Group, headline: str) -> bool:
    """Does a `not:` headline go wrong through this group: its terms match, and the headline
    is classified AI-governance news? (A trap may hold the group's term, "AI Overviews" in a
    product story; it must not make the story relevant.)"""
    return yields(clf, g, headline) and clf.classify(headline, "", lang=example_lang(g)).relevant


def examples(clf: Classifier, groups: Iterable[Group]) -> list[Problem]:
    out: list[Problem] = []
    for g in groups:
        if not g.examples:
            out.append(
                _problem(
                    "no-examples",
                    g,
                    "add `examples:` with at least one headline that the group's terms match",
                )
            )
        for h in g.examples:
            if not yields(clf, g, h):
                out.append(
                    _problem(
                        "example",
                        g,
                        f"example {h!r} does not yield this group's evidence"
                        " (see `policybot explain` for what it matches)",
                    )
                )
        for h in g.not_examples:
            if misleads(clf, g, h):
                out.append(
                    _problem("not-example", g, f"`not:` headline {h!r} is flagged through it")
                )
    return out


def check(clf: Classifier, sources: Iterable[str] | None = None) -> list[Problem]:
    """Every problem of the classifier's lexicon; with `sources`, of those files' groups only
    (conflicts and shadows with the other files still count)."""
    wanted = None if sources is None else set(sources)
    groups = [g for g in clf.lexicon.groups if wanted is None or g.source in wanted]
    return [
        *(p for p in conflicts(clf.lexicon.groups) if wanted is None or p.source in wanted),
        *unreachable(clf, groups),
        *examples(clf, groups),
    ]
