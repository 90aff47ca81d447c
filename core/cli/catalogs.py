"""``agentic-flow models`` and ``agentic-flow agents``: the two catalogs on the terminal."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentic_flow.core.cli.checks import seconds_problem, url_problem
from agentic_flow.core.cli.exit_codes import EXIT_ERROR, EXIT_OK, EXIT_PROVIDER, EXIT_USAGE
from agentic_flow.core.cli.output import err, table, warn
from agentic_flow.core.errors import ProviderError, StoreError

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.agents.catalog import Agent, AgentCatalog, AgentProblem
    from agentic_flow.core.config import Settings
    from agentic_flow.core.models.catalog import ModelCatalog
    from agentic_flow.core.store.database import LatencyStats

__all__ = ["cmd_models", "cmd_agents", "measured_latency", "published_latency", "agent_tool_problems"]


def measured_latency() -> "dict[str, LatencyStats]":
    """Measured latency per model id from the user's stored runs ({} when none)."""
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.store.database import Store

    try:
        return dict(Store().all_latency_stats())
    except StoreError as exc:
        warn(f"measured latency unavailable: {exc}")
        return {}


def published_latency() -> dict[str, Any]:
    """OpenRouter's published latency per model id from ``models refresh`` ({} when none)."""
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.models.published_latency import PublishedStore
    from agentic_flow.core.store.database import Store

    try:
        return dict(PublishedStore(Store()).summaries())
    except StoreError as exc:
        warn(f"published latency unavailable: {exc}")
        return {}


def _fmt_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}ms" if value < 1000 else f"{value / 1000:.2f}s"


def cmd_models(args: argparse.Namespace) -> int:
    if getattr(args, "models_command", None) == "refresh":
        return _models_refresh(args)
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.config import load_settings
    from agentic_flow.core.models.catalog import ModelCatalog, catalog_rows
    from agentic_flow.core.providers.registry import key_status

    settings = load_settings().merged
    catalog = ModelCatalog.load(settings=settings)
    for message in catalog.warnings:
        warn(message)
    if not getattr(args, "offline", False):
        catalog = _with_discovered(catalog, settings)
    stats = measured_latency()
    published = published_latency()
    models = catalog.search(args.search) if args.search else catalog.all()

    def ttft(info):  # noqa: ANN001, ANN202
        s = stats.get(info.id)
        return None if s is None or s.ttft_p50 is None else s.ttft_p50 / 1000

    if args.sort == "latency":
        models = catalog.sorted_by("latency", latency_of=ttft, models=models)
    elif args.sort:
        models = catalog.sorted_by(args.sort, models=models)
    keys = {p: key_status(p, settings) for p in {m.provider for m in models}}
    if args.json:
        out = []
        for info in models:
            s = stats.get(info.id)
            item = info.model_dump(mode="json")
            item["key"] = keys.get(info.provider) or "ok"
            item["discovered"] = info.origin == "discovered"
            item["measured"] = None if s is None else {
                "count": s.count,
                "ttft_ms_p50": s.ttft_p50,
                "ttft_ms_p95": s.ttft_p95,
                "tokens_per_s_p50": s.tps_p50,
                "tokens_per_s_p95": s.tps_p95,
            }
            p = published.get(info.id)
            item["published"] = None if p is None else {
                "source": "openrouter endpoints, last 30 min",
                "fetched_at": p.fetched_at.isoformat(),
                "endpoints": p.endpoints,
                "ttft_ms_p50": p.ttft_ms_p50,
                "tokens_per_s_p50": p.tps_p50,
                "uptime_30m": p.uptime_30m,
            }
            out.append(item)
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    rows = []
    for info, row in zip(models, catalog_rows(models)):
        s = stats.get(info.id)
        if s is None:
            measured = ("not measured", "", "")
        else:
            measured = (
                f"{_fmt_ms(s.ttft_p50)}/{_fmt_ms(s.ttft_p95)}",
                "-" if s.tps_p50 is None else f"{s.tps_p50:.0f}",
                str(s.count),
            )
        key = keys.get(info.provider)
        pub = published.get(info.id)
        shown_pub = ("-", "") if pub is None else (
            f"{_fmt_ms(pub.ttft_ms_p50)}/{'-' if pub.tps_p50 is None else f'{pub.tps_p50:.0f}'}", pub.date
        )
        rows.append(
            [row["Model"], row["In $/M"], row["Out $/M"], row["Context"], row["Tools"], row["Tier"], *measured,
             *shown_pub, "ok" if key is None else key, info.origin]
        )
    print(
        table(
            ["MODEL", "IN $/M", "OUT $/M", "CONTEXT", "TOOLS", "TIER", "TTFT p50/p95", "TOK/S", "RUNS",
             "PUBLISHED TTFT/TOK/S", "AS OF", "KEY", "FROM"],
            rows,
            right=(1, 2, 3, 7, 8, 9),
        )
    )
    dates = sorted({m.price_date.isoformat() for m in models})
    if dates:
        print(f"\nPrices per million tokens, as of {dates[0]}..{dates[-1]}; ? = unknown. "
              "TTFT p50/p95, TOK/S, RUNS: measured from your own runs. PUBLISHED: OpenRouter's figures for its "
              "endpoints over the last 30 min (median p50), as of the date shown. "
              "Refresh prices and published latency: agentic-flow models refresh\n"
              "FROM: bundled, openrouter (refreshed), local (embedded), settings (providers.NAME.models), "
              "discovered (listed by your server's GET /models)")
    return EXIT_OK


def _with_discovered(catalog: "ModelCatalog", settings: "Settings") -> "ModelCatalog":
    """The catalog plus what reachable OpenAI-compatible servers list now (short timeout);
    a configured server that cannot be asked is a warning, its last listing stays."""
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.models.discover import discover_models

    found = asyncio.run(discover_models(settings))
    for item in found:
        if item.error is not None and item.configured:
            warn(f"{item.provider}: {item.error}; its models are those it listed last time, if any")
    return catalog.with_models(m for item in found for m in item.models)


def _models_refresh(args: argparse.Namespace) -> int:
    """Exit 0 when refreshed, 4 when OpenRouter cannot be reached or refuses (as documented
    for "server down"), 1 when the cache cannot be written, 2 for a bad --timeout."""
    problem = seconds_problem(args.timeout) or url_problem(args.base_url)
    if problem:
        err(problem)
        return EXIT_USAGE
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.config import load_settings
    from agentic_flow.core.models.refresh import refresh_from_openrouter
    from agentic_flow.core.providers.registry import resolve_provider_config

    # --base-url, else providers.openrouter.base_url in settings, else OpenRouter itself.
    base_url = args.base_url or resolve_provider_config("openrouter", load_settings().merged).base_url
    print(f"fetching the OpenRouter model list from {base_url}…", file=sys.stderr)
    try:
        result = asyncio.run(refresh_from_openrouter(base_url, timeout=args.timeout))
    except ProviderError as exc:
        err(str(exc))
        return EXIT_PROVIDER
    except StoreError as exc:
        err(str(exc))
        return EXIT_ERROR
    print(f"updated {len(result.models)} OpenRouter models; cached in {result.path}")
    if result.skipped:
        warn(f"skipped {len(result.skipped)} entries that could not be read")
    # Published per-endpoint latency (core/models/published_latency.py, core/cli/published.py).
    if not getattr(args, "no_latency", False):
        # lazy: each command loads only what it runs (`--help` stays fast)
        from agentic_flow.core.cli.published import refresh_published_latency

        refresh_published_latency(args, base_url)
    return EXIT_OK


def cmd_agents(args: argparse.Namespace) -> int:
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.agents.catalog import load_catalog

    agents_dir = Path(args.agents_dir) if getattr(args, "agents_dir", None) else None
    catalog = load_catalog(agents_dir)
    if getattr(args, "agents_command", None) == "show":
        agent = catalog.get(args.name)
        own_problems = [p for p in [*catalog.problems, *agent_tool_problems(catalog)] if Path(p.path) == agent.path]
        if args.json:
            out = {**_agent_json(agent), "prompt": agent.prompt, "problems": [_problem_json(p) for p in own_problems]}
            json.dump(out, sys.stdout, indent=2, default=str)
            sys.stdout.write("\n")
            return EXIT_OK
        print(f"name:        {agent.name}")
        print(f"description: {agent.description}")
        print(f"tools:       {'all' if agent.tools is None else ', '.join(agent.tools) or 'none'}")
        print(f"model:       {agent.model or '(session model)'}")
        print(f"file:        {agent.path} ({agent.source})")
        for problem in own_problems:
            print(f"problem:     {problem}")
        print()
        print(agent.prompt)
        return EXIT_OK
    problems = [*catalog.problems, *agent_tool_problems(catalog)]
    if args.json:
        out = {"agents": [_agent_json(a) for a in catalog], "problems": [_problem_json(p) for p in problems]}
        json.dump(out, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        return EXIT_OK
    rows = []
    for agent in catalog:
        desc = " ".join(agent.description.split())
        tools = "all" if agent.tools is None else (",".join(agent.tools) or "none")
        rows.append([agent.name, agent.source, tools, desc[:70] + ("…" if len(desc) > 70 else "")])
    print(table(["AGENT", "SOURCE", "TOOLS", "DESCRIPTION"], rows))
    if problems:
        print(f"\n{len(problems)} problem(s) while loading agents:")
        for problem in problems:
            print(f"  {problem}")
    return EXIT_OK


def _agent_json(agent: "Agent") -> dict[str, Any]:
    return {
        "name": agent.name,
        "description": agent.description,
        "tools": agent.tools,
        "model": agent.model,
        "color": agent.color,
        "source": agent.source,
        "path": str(agent.path),
        "extra": agent.extra,
    }


def _problem_json(problem: "AgentProblem") -> dict[str, Any]:
    return {"path": str(problem.path), "line": problem.line, "severity": problem.severity, "message": problem.message}


def agent_tool_problems(catalog: "AgentCatalog") -> "list[AgentProblem]":
    """A warning, at the ``tools:`` line, for every name in an agent's tool list that is no
    tool at all (what ``run`` would ignore). MCP selectors are not checked: which servers
    run is only known when a session starts them."""
    # lazy: each command loads only what it runs (`--help` stays fast)
    from agentic_flow.core.agents.catalog import AgentProblem
    from agentic_flow.core.tools.registry import ALL_AGENTS, tools_for_agent

    problems = []
    for agent in catalog:
        for entry in agent.tools or []:
            if entry.startswith(("mcp:", "mcp__")) or entry.strip() == "*":
                continue
            selected, warnings = tools_for_agent([entry])
            if selected.delegates is not None:  # agent / agent(reviewer, tester): names agents
                unknown = sorted(n for n in selected.delegates if n != ALL_AGENTS and n not in catalog)
                if unknown:
                    warnings.append(f"'{entry}': no agent named {', '.join(unknown)} in the catalog")
                line = agent.key_lines.get("tools")
                problems += [AgentProblem(agent.path, line, message, "warning") for message in warnings]
            elif not selected:
                line = agent.key_lines.get("tools")
                for message in warnings or [f"Unknown tool '{entry}' ignored."]:
                    problems.append(AgentProblem(agent.path, line, message, "warning"))
    return problems
