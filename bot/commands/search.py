"""`search`: past stories in any language, with filters and pages."""

from __future__ import annotations

from bot.commands.args import bool_arg, int_arg, str_arg
from bot.commands.context import CommandContext
from bot.commands.types import Reply, Request
from bot.core import validate
from bot.errors import InputError
from bot.types import SearchQuery

CLI_EXAMPLES = (
    'tell me what to search for, e.g. `policybot search "AI Act"`,'
    " `policybot search 人工智能 --jurisdiction CN` or"
    " `policybot search chips --since 7d`"
)
CHAT_EXAMPLES = (
    "tell me what to search for, e.g. `/policy search AI Act`,"
    " `/policy search 人工智能 jurisdiction:CN` or `/policy search chips since:7d`"
)
MAX_PER_PAGE_CHAT = 10
MAX_PER_PAGE_CLI = 100


async def cmd_search(req: Request, ctx: CommandContext) -> Reply:
    a = req.args
    cli = req.caller.platform == "cli"
    query = SearchQuery(
        text=str(a.get("query") or ""),
        jurisdiction=validate.jurisdiction(j) if (j := str_arg(a, "jurisdiction", 100)) else None,
        topic=validate.topic(t) if (t := str_arg(a, "topic", 100)) else None,
        lang=validate.language(x) if (x := str_arg(a, "lang", 20)) else None,
        since=str_arg(a, "since", 40),
        source=str_arg(a, "source", 200),
        relevant_only=not bool_arg(a, "all"),
        page=int_arg(a, "page", 1, 1, 1000),
        per_page=int_arg(a, "per_page", 5, 1, MAX_PER_PAGE_CLI if cli else MAX_PER_PAGE_CHAT),
    )
    share = bool_arg(a, "share")
    relevant_only = query.relevant_only
    if not query.text.strip() and not query.has_filters():
        raise InputError(CLI_EXAMPLES if cli else CHAT_EXAMPLES)
    res = await ctx.call(ctx.bot.search, query)
    shown_q = " ".join(res.terms) or "(filters only)"
    if not res.hits:
        text = f"No stories match {shown_q!s}."
        if res.page > 1:
            text = f"No more results for {shown_q} (page {res.page})."
        elif relevant_only:
            text += " Try fewer words, another spelling, or drop a filter."
        # Past the last page: keep the args so that Previous still runs this search.
        return Reply(
            title="Search",
            text=text,
            ephemeral=not share,
            page=res.page,
            more_args=dict(a),
            notices=res.notices,
        )
    count = f"{res.total}" if res.total is not None else "many"
    first = (res.page - 1) * res.per_page + 1
    text = (
        f"{count} result{'s' if res.total != 1 else ''} for {shown_q}; showing"
        f" {first}-{first + len(res.hits) - 1}."
    )
    return Reply(
        title="Search",
        text=text,
        stories=tuple(res.hits),
        ephemeral=not share,
        page=res.page,
        has_more=res.has_more,
        more_args=dict(a),  # Previous needs them on the last page too
        notices=res.notices,
    )
