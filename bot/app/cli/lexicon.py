"""`policybot lexicon check`: conflicts, unreachable entries and examples of the lexicon."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from bot.app.cli.base import app, console, err_console, fail
from bot.app.cli.classify import load_classifier

if TYPE_CHECKING:
    from bot.classify import Classifier

lexicon_app = typer.Typer(help="Check the classifier's lexicon (shipped files and your own).")
app.add_typer(lexicon_app, name="lexicon")


@lexicon_app.command("check")
def check_cmd(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(
        None,
        help="Lexicon files to check, loaded after the shipped ones and those of the config"
        " (default: check everything).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Report conflicts (a term in two groups with contradicting roles), unreachable entries
    (an earlier or longer term takes their place), groups without examples, examples that do
    not match their group and `not:` headlines that do. Exit code 1 when there is any."""
    from bot.classify import Classifier, LexiconError
    from bot.classify.check import PROBLEM_KINDS, check

    extra = list(files or [])
    for p in extra:
        if not p.is_file():
            fail(f"{p}: no such lexicon file")
    clf = load_classifier(ctx)
    if extra:
        try:
            clf = Classifier.load(
                extra_lexicons=[*_config_files(clf), *extra], threshold=clf.threshold
            )
        except LexiconError as exc:
            fail(str(exc))
    problems = check(clf, [str(p) for p in extra] if extra else None)
    n_groups = len(clf.lexicon.groups)
    if as_json:
        counts = {k: sum(pr.kind == k for pr in problems) for k in PROBLEM_KINDS}
        sys.stdout.write(
            json.dumps(
                {
                    "ok": not problems,
                    "groups": n_groups,
                    "counts": counts,
                    "problems": [pr.as_dict() for pr in problems],
                },
                ensure_ascii=False,
                indent=2,
            )
            + "\n"
        )
    elif problems:
        t = Table(title=f"{len(problems)} problem(s) in {n_groups} groups")
        for col in ("kind", "group", "problem"):
            t.add_column(col, overflow="fold")
        for pr in problems:
            t.add_row(pr.kind, escape(pr.group), escape(pr.message))
        console.print(t)
    else:
        console.print(f"lexicon ok: {n_groups} groups, every example matches its group")
    if problems:
        err_console.print(f"{len(problems)} problem(s)", highlight=False)
        raise typer.Exit(1)


def _config_files(clf: Classifier) -> list[Path]:
    """The user files the configured classifier already loaded (all but the shipped ones)."""
    from bot.classify.lexicon import builtin_files

    shipped = {str(p) for p in builtin_files()}
    return [Path(s) for s in clf.lexicon.sources if s not in shipped]
