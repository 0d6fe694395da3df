"""The compiled (mypyc) build of the classifier's hot path against its pure-Python sources.

setup.py compiles the classifier's per-item modules (native.MODULES) when it can;
bot/classify/native.py picks the build at import. Both must give the same verdicts, and a
compiled module must never run in place of a source changed since it was built. In CI (gcc
present) the compiled build must exist; on a machine without a C compiler these tests skip,
saying so.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.classify import Classifier, native
from tests.conftest import SHARED

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]

# Classifies the JSON lines on stdin (title, summary, lang, hints; None allowed) and prints
# the build and each verdict as JSON lines.
_DUMP = """
import json, sys
from bot.classify import get_classifier, native
import bot.classify.kernel as kernel, bot.classify.lexicon as lexicon
print(json.dumps({"build": native.build().describe(), "kernel": kernel.__file__,
                  "lexicon": lexicon.__file__}))
clf = get_classifier()
for line in sys.stdin:
    d = json.loads(line)
    v = clf.classify(d["title"], d["summary"], lang=d["lang"], hints=d["hints"])
    print(json.dumps(v.to_dict(), ensure_ascii=False, sort_keys=True))
"""


def _need_compiled() -> None:
    b = native.build()
    if b.compiled:
        return
    if os.environ.get("CI") and not os.environ.get(native.PURE_ENV):
        pytest.fail(f"CI must test the compiled classifier, but it runs {b.describe()}")
    pytest.skip(f"the classifier is not compiled here: {b.describe()}")


def _run(items: list[dict[str, object]], pure: bool, cwd: Path = REPO) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != native.PURE_ENV}
    if pure:
        env[native.PURE_ENV] = "1"
    if cwd != REPO:
        env["PYTHONPATH"] = str(cwd)
    proc = subprocess.run(
        [sys.executable, "-c", _DUMP],
        input="".join(json.dumps(d, ensure_ascii=False) + "\n" for d in items),
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def _labelled() -> list[dict[str, object]]:
    files = sorted(DATA.glob("tuning*.jsonl"))
    dev = SHARED / "eval" / "dev.jsonl"
    if dev.exists():
        files.append(dev)
    items: list[dict[str, object]] = []
    for f in files:
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                d = json.loads(line)
                items.append(
                    {"title": d["title"], "summary": d.get("summary") or "", "lang": d.get("lang"),
                     "hints": []}
                )  # fmt: skip
    return items


def _generated(n: int, seed: int) -> list[dict[str, object]]:
    """Items built from the lexicon's own terms, in random case, order and company: every
    kind of rule fires somewhere, in the title or deep in the summary, in every script."""
    rng = random.Random(seed)
    terms = [e.term for e in Classifier.load().lexicon.entries]
    filler = ["the", "said", "on", "Shanghai", "KI-Gesetz", "的", "は", "에서", "—", "U.S.",
              "Gov.", "2025.", "!", "?", "。", ",", "(", ")", "'s", "\n", "  ", "…", "«",
              "»"]  # fmt: skip
    langs = [None, "en", "zh", "ja", "ko", "es", "fr", "de", "pt", "it", "EN-us", ""]

    def text(k: int) -> str:
        words = []
        for _ in range(k):
            w = rng.choice(terms) if rng.random() < 0.45 else rng.choice(filler)
            r = rng.random()
            words.append(w.upper() if r < 0.1 else (w.title() if r < 0.2 else w))
        sep = rng.choice([" ", " ", "", ". ", ", "])
        return sep.join(words)

    items: list[dict[str, object]] = []
    for _ in range(n):
        items.append(
            {
                "title": text(rng.randint(0, 10)) if rng.random() > 0.02 else None,
                "summary": text(rng.randint(0, 60)) if rng.random() > 0.05 else None,
                "lang": rng.choice(langs),
                "hints": rng.choice([[], ["US"], [" eu", "INTL"], ["cn"]]),
            }
        )
    return items


def test_compiled_and_pure_builds_give_the_same_verdicts() -> None:
    _need_compiled()
    items = _labelled() + _generated(3000, seed=20261201)
    compiled = _run(items, pure=False)
    pure = _run(items, pure=True)
    assert "compiled" in compiled[0] and ".so" in json.loads(compiled[0])["kernel"]
    assert "pure Python" in pure[0] and json.loads(pure[0])["kernel"].endswith("kernel.py")
    assert len(compiled) == len(pure) == len(items) + 1
    differ = [i for i, (a, b) in enumerate(zip(compiled[1:], pure[1:], strict=True)) if a != b]
    assert not differ, f"{len(differ)} verdicts differ, first: {items[differ[0]]!r}"
    # The items exercise the classifier: many relevant, many not.
    relevant = sum(json.loads(line)["relevant"] for line in compiled[1:])
    assert 0.1 * len(items) < relevant < 0.9 * len(items)


# Greek has two lower-case sigmas (final ς, σ elsewhere); str.lower() picks one by position
# while the compiled build's lower() always gives σ. Capitals, a final sigma in lower case and
# an accent-less capital spelling, in titles and deep in summaries.
_GREEK = [
    ("ΜΗΤΣΟΤΑΚΗΣ: ΝΕΟΙ ΚΑΝΟΝΕΣ ΓΙΑ ΤΗΝ AI ΣΤΟ ΔΗΜΟΣΙΟ", ""),
    ("Ο Μητσοτάκης παρουσίασε κανόνες για την AI", ""),
    ("ΠΡΟΣΤΙΜΟ ΑΠΟ ΤΗΝ ΑΡΧΗ ΠΡΟΣΤΑΣΙΑΣ ΔΕΔΟΜΕΝΩΝ ΓΙΑ ΚΑΜΕΡΕΣ AI", ""),
    (
        "Πρόστιμο για κάμερες AI",
        "Η Αρχή Προστασίας Δεδομένων επέβαλε πρόστιμο. ΣΧΟΛΙΑΣΕ Ο ΜΗΤΣΟΤΑΚΗΣ.",
    ),
    ("ΑΡΧΗ ΠΡΟΣΤΑΣΙΑΣ ΔΕΔΟΜΕΝΩΝ: AI rules for cameras", "ΣΣΣ ς σ Σ"),
]


def test_both_builds_fold_greek_sigma_alike() -> None:
    _need_compiled()
    items: list[dict[str, object]] = []
    for title, summary in _GREEK:
        for lang in (None, "el", "en"):
            items.append({"title": title, "summary": summary, "lang": lang, "hints": []})
    compiled = _run(items, pure=False)
    pure = _run(items, pure=True)
    assert "compiled" in compiled[0] and "pure Python" in pure[0]
    assert compiled[1:] == pure[1:]
    # ... and both find the Greek actor or regulator in every item, whatever the case
    for line in compiled[1:]:
        assert "GR" in json.loads(line)["jurisdictions"], line


def _copy_installed(dst: Path) -> Path:
    """This checkout's bot package, compiled modules and their record included, in `dst`."""
    shutil.copytree(REPO / "bot", dst / "bot", ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copytree(REPO / "bot" / "classify" / "data", dst / "bot" / "classify" / "data")
    for lib in REPO.glob("policybot_classify__mypyc*"):  # the modules' shared library
        shutil.copy2(lib, dst / lib.name)
    return dst


_ONE = [{"title": "EU AI Act enters into force", "summary": "", "lang": "en", "hints": []}]


def test_a_stale_compiled_module_never_runs(tmp_path: Path) -> None:
    _need_compiled()
    if not list(REPO.glob("policybot_classify__mypyc*")):
        pytest.skip("the compiled modules are not in this checkout (a non-editable install)")
    tree = _copy_installed(tmp_path / "tree")
    as_built = _run(_ONE, pure=False, cwd=tree)
    assert "compiled" in as_built[0]  # the copy runs compiled as it is

    kernel = tree / "bot" / "classify" / "kernel.py"
    kernel.write_text(kernel.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    edited = _run(_ONE, pure=False, cwd=tree)
    head = json.loads(edited[0])
    assert "kernel.py changed since it was compiled" in head["build"]
    assert head["kernel"] == str(kernel)
    assert edited[1:] == as_built[1:]  # the sources run, and give the same verdict

    # A build that did not finish leaves no record: its modules are not trusted either.
    (tree / "bot" / "classify" / native.MANIFEST).unlink()
    kernel.write_text(kernel.read_text(encoding="utf-8").removesuffix("\n# edited\n"))
    unrecorded = json.loads(_run(_ONE, pure=False, cwd=tree)[0])
    assert "no record of their sources" in unrecorded["build"]
    assert unrecorded["kernel"].endswith("kernel.py")


def test_an_extension_left_by_an_older_build_never_runs(tmp_path: Path) -> None:
    """An extension of a module that the build no longer compiles (engine.py's, before the
    kernel was split out of it; here the lexicon's) must not run in place of its source."""
    _need_compiled()
    if not list(REPO.glob("policybot_classify__mypyc*")):
        pytest.skip("the compiled modules are not in this checkout (a non-editable install)")
    tree = _copy_installed(tmp_path / "tree")
    here = tree / "bot" / "classify"
    kernel_ext = next(here.glob("kernel.*.so"))
    shutil.copy2(kernel_ext, here / kernel_ext.name.replace("kernel.", "lexicon.", 1))
    out = _run(_ONE, pure=False, cwd=tree)
    head = json.loads(out[0])
    assert "compiled" in head["build"]
    assert head["lexicon"] == str(here / "lexicon.py")
    assert json.loads(out[1])["relevant"]
