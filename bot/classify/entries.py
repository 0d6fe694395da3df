"""The lexicon's records: what one term means (Entry), a group as written (Group), and the
whole lexicon the matcher compiles (Lexicon). bot/classify/lexicon.py reads them from files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot import errors

# What a match of each section means to the scorer.
KINDS: tuple[str, ...] = (
    "ai",  # evidence that the item is about AI
    "compute",  # chips/compute: AI evidence only next to export-control or industrial policy
    "governance",  # evidence of law/policy/regulatory action
    "ai_governance",  # both at once ("AI regulation", "人工智能治理")
    "topic",  # topic cue only: says which topic, adds nothing to relevance
    "negative",  # evidence the item is something else (funding round, sports, research result)
    "actor",  # a governmental actor (government, ministry, lawmakers, named leaders)
    "neutral",  # matches only to shadow a shorter, misleading term ("Star Alliance")
    "jurisdiction",  # a place name, demonym, capital or multilateral body -> a code
    "institution",  # a public body -> a code, governance weight, maybe AI weight
    "instrument",  # a named law or policy instrument -> canonical name, code(s), topics
    "context",  # the cues next to it are not the news: "rather than a law", "under the AI Act"
)


class LexiconError(errors.ConfigError):
    """A problem in a lexicon file, worded for the person who wrote it."""


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str
    term: str  # as written (minus '*' markers): also the case-sensitive form
    key: str  # normalised, lower-cased form used in the automaton
    weight: float = 1.0
    topics: tuple[str, ...] = ()
    jurisdictions: tuple[str, ...] = ()
    case: bool = False  # case-sensitive: the text must match `term` exactly
    left: bool = True  # require a word boundary before (Latin-script starts only)
    right: bool = True  # ... and after
    needs_actor: bool = False  # counts fully only next to a governmental actor
    ai: float = 0.0  # AI evidence carried by an institution/instrument/ai_governance match
    label: str = ""  # instrument canonical name, jurisdiction subtype, negative category...
    ident: str = ""  # instrument id
    langs: tuple[str, ...] = ()  # when set, the entry only counts in items of these languages
    generic: bool = False  # a topic cue that yields to a specific one ("rules", "restricts")
    # A verb whose topic is the role of the governmental actor in its sentence ("parliament
    # approves" -> legislation, "cabinet approves" -> executive action; `topics` of actors).
    from_actor: bool = False
    near: tuple[str, ...] = ()  # topic counts only with a hit of these kinds in the sentence
    scope: str = ""  # context: the words "after" it or "before" it (SOV languages)
    # context: holds only where no governmental actor precedes it in the sentence ("Apple
    # says its model complies with the rules", not "EU regulators say it complies")
    unless_actor: bool = False
    source: str = ""  # file it came from, for error messages and `explain`


@dataclass(frozen=True, slots=True)
class Group:
    """One group of a section as written: what `lexicon check` and the examples test read."""

    section: str
    kind: str
    id: str
    source: str
    index: int  # its place in the section, for messages
    terms: tuple[str, ...]  # as written, patterns expanded
    entries: tuple[Entry, ...]
    examples: tuple[str, ...] = ()
    not_examples: tuple[str, ...] = ()
    langs: tuple[str, ...] = ()
    hides: frozenset[str] = frozenset()  # context: governance terms it hides on purpose
    # terms another group reads the other way on purpose ("investigación": research or an
    # investigation); `lexicon check` reports other such terms as conflicts
    ambiguous: frozenset[str] = frozenset()
    explicit_id: bool = True  # False: derived from the first term (no `id:` in the file)

    @property
    def where(self) -> str:
        return f"{self.source}: {self.section}[{self.index}] (id {self.id})"


@dataclass
class Lexicon:
    entries: list[Entry] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    char_map: dict[int, str] = field(default_factory=dict)
    instruments: dict[str, str] = field(default_factory=dict)  # id -> canonical name
    sources: list[str] = field(default_factory=list)
    # Lower-case nouns that a place name in front of them only describes: "the US journal",
    # "a China-based start-up", "U.S. tech giants" (the place is not the actor).
    modified_nouns: set[str] = field(default_factory=set)
