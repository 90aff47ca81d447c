"""Wiring shared by the CLI and the TUI: settings + flags → a ready AgentSession.

Choosing the model, building the provider with its timeouts and retries, limiting the
tools to the agent's list, starting MCP servers, opening the store and the permission
engine: done once here, so ``agentic-flow run`` and the workbench behave the same.

Trust is settled here too, before anything from the workspace runs: project MCP
servers start only when trusted (``core.mcp.trust``), and a mode the workspace's own
settings ask for applies only once the user confirmed the workspace
(``core.permissions.workspace_trust``). A front end that can ask a person passes a
:class:`TrustPrompt` (the workbench does); without one, what is not trusted is skipped
or withheld with a warning that says how to trust it.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Protocol

from agentic_flow.core.agents.catalog import load_catalog
from agentic_flow.core.agents.delegation import Delegation, DelegationContext
from agentic_flow.core.agents.models import AUTO, DEFAULT_MODEL_ALIASES, agent_model
from agentic_flow.core.config import LoadedSettings, Settings, load_settings
from agentic_flow.core.context.checkpoints import UNTRACKED_NOTE, Checkpoints, RestoreResult, TurnMark
from agentic_flow.core.context.compaction import CompactionPolicy, Compactor, ContextUsage
from agentic_flow.core.context.mentions import MentionResult, attach_mentions, workspace_files
from agentic_flow.core.errors import AgenticFlowError, ConfigError, UnknownModel
from agentic_flow.core.events import Event
from agentic_flow.core.http import HttpClient, Timeouts
from agentic_flow.core.keys import save_api_key, set_session_key
from agentic_flow.core.local.models import LOCAL_PROVIDER, fit_system_prompt, get_local_model
from agentic_flow.core.local.server import LOCAL_MODEL_ID, ensure_local_server, local_provider_config
from agentic_flow.core.mcp.client import ElicitationHandler, McpManager, default_elicitation_policy
from agentic_flow.core.mcp.config import McpServerConfig, McpServerEntry, load_mcp_entries
from agentic_flow.core.mcp.trust import McpTrustRequest, assess, forbidden_variables, startable
from agentic_flow.core.models.catalog import ModelCatalog
from agentic_flow.core.models.discover import Discovery, discover_models
from agentic_flow.core.models.fit import model_fit
from agentic_flow.core.models.tokens import count_tokens
from agentic_flow.core.permissions import (
    PermissionEngine,
    PermissionRequest,
    choose_approver,
    example_rule,
    mode_and_approver_for,
    parse_mode,
)
from agentic_flow.core.permissions.audit import AuditLog
from agentic_flow.core.permissions.workspace_trust import WorkspaceModeRequest
from agentic_flow.core.providers.base import Provider, RetryPolicy
from agentic_flow.core.providers.presets import PRESETS
from agentic_flow.core.providers.registry import (
    create_provider,
    key_status,
    known_providers,
    needs_key,
    resolve_provider_config,
    split_model_id,
)
from agentic_flow.core.routing.router import choose_auto
from agentic_flow.core.sandbox import Sandbox, SandboxStatus
from agentic_flow.core.session import (
    DEFAULT_MAX_TURNS,
    AgentSession,
    SessionOptions,
    SessionRecord,
    SessionTotals,
    TurnStats,
)
from agentic_flow.core.store.database import Store
from agentic_flow.core.tools.registry import ToolSet, tools_for_agent
from agentic_flow.core.trust import TrustStore

if TYPE_CHECKING:  # pragma: no cover
    from agentic_flow.core.agents.catalog import Agent, AgentCatalog
    from agentic_flow.core.permissions import Approver

__all__ = [
    "ApprovalHints",
    "McpTrustRequest",
    "RestoreResult",
    "TurnMark",
    "UNTRACKED_NOTE",
    "WORKBENCH_NOTE_START",
    "split_workbench_note",
    "RunOptions",
    "Runtime",
    "TrustPrompt",
    "WorkspaceModeRequest",
    "CLAUDE_MODEL_ALIASES",
    "LOCAL_DEFAULT_MODEL",
    "choose_model",
    "context_window",
    "make_provider",
    "prepare_model",
    "default_max_tokens",
    "default_temperature",
]

#: How a note from the workbench to the model begins (after /undo or /rewind); the note
#: goes before the user's next prompt, a blank line between (see ``LongSession._prompt_text``).
WORKBENCH_NOTE_START = "[Note from the workbench: "


def split_workbench_note(text: str) -> tuple[str | None, str]:
    """A stored prompt split into the workbench's note to the model (``None`` if there is
    none) and what the user typed."""
    if not text.startswith(WORKBENCH_NOTE_START):
        return None, text
    end = text.find("]\n\n")  # the note is one line: its end is the first "]" then a blank line
    if end < 0:
        return None, text
    return text[: end + 1], text[end + 3 :]


#: The built-in aliases on Anthropic (kept for callers; see ``core.agents.models``).
CLAUDE_MODEL_ALIASES = DEFAULT_MODEL_ALIASES["anthropic"]
LOCAL_DEFAULT_MODEL = LOCAL_MODEL_ID


async def prepare_model(model_id: str, on_progress: Callable[[str], None] | None = None) -> None:
    """Start what a model needs before its first request (the embedded local server)."""
    provider, model = split_model_id(model_id)
    if provider == LOCAL_PROVIDER:
        await ensure_local_server(on_progress=on_progress, model=model)


def default_max_tokens(model_id: str) -> int | None:
    """Tiny local models rarely stop on their own: cap their answers."""
    provider, model = split_model_id(model_id)
    return get_local_model(model).max_output if provider == LOCAL_PROVIDER else None


def default_temperature(model_id: str) -> float | None:
    """The temperature used when none is set: greedy for the tiny local model (sampled,
    it drifts off the question within a sentence); the server's own default otherwise."""
    provider, model = split_model_id(model_id)
    return get_local_model(model).temperature if provider == LOCAL_PROVIDER else None


@dataclass
class RunOptions:
    """Everything a run can be told by flags; None means "from settings, else default"."""

    model: str | None = None
    agent: str | None = None
    agents_dir: str | None = None
    base_url: str | None = None
    system: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    timeout: float | None = None
    retry: int | None = None
    max_turns: int | None = None
    approve: str | None = None
    workspace: str | None = None
    no_tools: bool = False
    resume: str | None = None
    task: str | None = None
    """The first task, when known up front: ``--model auto`` routes on it."""
    trust_mcp: tuple[str, ...] = ()
    """Project MCP servers to start this run without a remembered approval (``--trust-mcp``)."""


class TrustPrompt(Protocol):
    """A person who can say what to trust in a workspace (the workbench implements it)."""

    async def approve_mcp_servers(self, requests: list[McpTrustRequest]) -> dict[str, bool]:
        """Project servers waiting for approval -> ``{name: approved}``, remembered for the
        workspace; a name left out is neither started nor remembered (asked again next time)."""
        ...

    async def confirm_workspace_mode(self, request: WorkspaceModeRequest) -> bool:
        """The workspace's settings ask for a more permissive mode: trust the workspace?"""
        ...


def _default_model(settings: LoadedSettings) -> tuple[str, str]:
    if settings.merged.default_model:
        # The project file overrides the user file key by key: name the one that set it.
        source = settings.project_file if settings.project.default_model else settings.user_file
        return settings.merged.default_model, f"default_model in {source}"
    for provider, preset in PRESETS.items():  # the preset table's order is the preference
        if preset.default_model and key_status(provider, settings.merged) is None:
            return preset.default_model, f"the default for {provider} (its key is set)"
    return LOCAL_DEFAULT_MODEL, "no API key is set, so the embedded local model"


def choose_model(explicit: str | None, agent: "Agent | None", settings: LoadedSettings) -> tuple[str, str]:
    """The model to use and why (shown to the user when it was not explicit).

    ``--model``, else the agent's ``model:`` (an alias resolves near the default model,
    see ``core.agents.models``; ``auto`` is routed by ``Runtime.open``), else the default.
    """
    if explicit:
        return explicit, "--model"
    default, why = _default_model(settings)
    from_agent, note = agent_model(agent, settings.merged, default)
    if from_agent and from_agent != AUTO and agent is not None:
        return from_agent, f"agent {agent.name}'s model: {agent.model}"
    if note:
        return default, f"{why}; {note}"
    return default, why


def _provider_opener(
    opts: RunOptions, settings: LoadedSettings, main_model: str, http: HttpClient
) -> Callable[[str], Provider]:
    """Providers for subagents: the run's timeouts and retries; ``--base-url`` for the
    main model's provider only (it names that provider's server)."""
    main_provider = split_model_id(main_model)[0]

    def open_provider(model_id: str) -> Provider:
        same = split_model_id(model_id)[0] == main_provider
        return make_provider(
            model_id, settings, base_url=opts.base_url if same else None, timeout=opts.timeout, retry=opts.retry,
            http=http,
        )

    return open_provider


def _router(settings: LoadedSettings, catalog: ModelCatalog, store: Store) -> Callable[[str, "Agent"], tuple[str, str]]:
    """``model: auto`` for a subagent: the router chooses for the delegated task."""

    def route(task: str, agent: "Agent") -> tuple[str, str]:
        decision = choose_auto(task, agent, settings, catalog, store)
        if decision.model_id is None:
            raise UnknownModel(f"model auto found no model to use: {decision.reason}")
        return decision.model_id, decision.reason

    return route


def make_provider(
    model_id: str,
    settings: LoadedSettings,
    *,
    base_url: str | None = None,
    timeout: float | None = None,
    retry: int | None = None,
    http: HttpClient | None = None,
) -> Provider:
    provider_name, model = split_model_id(model_id)
    if provider_name == LOCAL_PROVIDER:
        config = local_provider_config(model=model)
    else:
        config = resolve_provider_config(provider_name, settings.merged, base_url=base_url)
    merged = settings.merged
    timeouts = Timeouts(
        connect=merged.connect_timeout if merged.connect_timeout is not None else Timeouts.connect,
        read=timeout if timeout is not None else (merged.timeout if merged.timeout is not None else Timeouts.read),
    )
    retries = retry if retry is not None else (merged.retries if merged.retries is not None else RetryPolicy.retries)
    if retries < 0:
        raise UnknownModel("--retry must be 0 or more")
    return create_provider(config, http=http, timeouts=timeouts, retry=RetryPolicy(retries=retries))


def open_sandbox(workspace: Path, settings: LoadedSettings, warnings: list[str], announce: bool = True) -> Sandbox:
    """The session's command sandbox, from the user config's ``sandbox:`` block.

    With ``announce``, a missing sandbox is said once in ``warnings`` (stderr for ``run``).
    """
    key_vars = [p.api_key_env for p in settings.merged.providers.values() if p.api_key_env]
    sandbox = Sandbox(workspace, settings.merged.sandbox, key_vars=key_vars)
    if settings.ignored_project_sandbox:
        warnings.append(
            f"'sandbox' in {settings.project_file} is ignored: a repository cannot change its own sandbox; "
            f"put sandbox settings in {settings.user_file}"
        )
    if announce and not sandbox.status.available:
        warnings.append(
            f"no command sandbox: {sandbox.status.reason}. Commands run unconfined, so every command asks "
            "for approval, also in auto mode (denied when nobody can answer)"
        )
    return sandbox


def _sandbox_opt_outs(
    servers: dict[str, McpServerConfig], settings: LoadedSettings, warnings: list[str]
) -> dict[str, McpServerConfig]:
    """``"sandbox": false`` counts only in the user's own config, never in the workspace's."""
    kept: dict[str, McpServerConfig] = {}
    for name, config in servers.items():
        if not config.sandbox and config.origin == "project":
            warnings.append(
                f"MCP server '{name}': \"sandbox\": false in {config.source} "
                "is ignored (only the user config can run a server outside the sandbox)"
            )
            config = replace(config, sandbox=True)
        kept[name] = config
    return kept


async def _open_tools(
    opts: RunOptions,
    agent: "Agent | None",
    workspace: Path,
    settings: LoadedSettings,
    stack: AsyncExitStack,
    warnings: list[str],
    elicit: ElicitationHandler,
    on_notice: Callable[[str], None] | None,
    sandbox: Sandbox | None = None,
    mode: str = "ask",
    trust_prompt: TrustPrompt | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The agent's tools, with trusted MCP servers started on ``stack`` when any are configured.

    ``elicit`` answers the servers' questions (a form in the workbench; the mode's policy
    headless); ``on_notice`` hears their progress, log lines and questions asked.
    """
    if opts.no_tools:
        return None, {}

    mcp = None
    extra: dict[str, Any] = {}
    servers = await trusted_mcp_servers(workspace, settings, warnings, flag_names=opts.trust_mcp, prompt=trust_prompt)
    servers = _sandbox_opt_outs(servers, settings, warnings)
    if servers:
        notice = None
        if on_notice is not None:
            notice = lambda server, message: on_notice(f"mcp:{server}: {message}")  # noqa: E731
        mcp = await stack.enter_async_context(
            McpManager(servers, elicitation_handler=elicit, on_notice=notice, sandbox=sandbox, sandbox_mode=mode)
        )
        extra = mcp.tools()
    tools, tool_warnings = tools_for_agent(agent.tools if agent else None, extra)
    warnings.extend(tool_warnings)
    return mcp, tools


async def trusted_mcp_servers(
    workspace: Path,
    settings: LoadedSettings,
    warnings: list[str],
    *,
    flag_names: tuple[str, ...] = (),
    prompt: TrustPrompt | None = None,
    store: TrustStore | None = None,
) -> dict[str, McpServerConfig]:
    """The configured MCP servers that may start, expanded (see ``core.mcp.trust``).

    Undecided project servers are put to ``prompt`` when there is one (its answers are
    remembered); every server left out adds a warning saying what it would run and how
    to trust it.
    """
    entries, problems = mcp_entries(workspace, settings)
    warnings.extend(problems)
    if "trust" in settings.project.model_fields_set:
        warnings.append(f"{settings.project_file}: 'trust' is ignored there: only your user settings say what is trusted")
    project_names = sorted(name for name, entry in entries.items() if entry.origin == "project")
    for name in flag_names:
        if name not in project_names:
            known = ", ".join(project_names) or "none"
            warnings.append(f"--trust-mcp {name}: no project MCP server of that name (project servers: {known})")
    if not entries:
        return {}
    store = store or TrustStore()
    trust = settings.user.trust
    trusts = assess(entries, workspace, store=store, flag_names=flag_names, trusted_names=trust.mcp_servers)
    undecided = [t for t in trusts if t.undecided]
    if undecided and prompt is not None:
        answers = await prompt.approve_mcp_servers([t.request() for t in undecided])
        for item in undecided:
            if item.name in answers:
                store.set_mcp(
                    workspace,
                    item.name,
                    approved=bool(answers[item.name]),
                    fingerprint=item.entry.fingerprint,
                    shown=item.entry.describe(),
                )
        trusts = assess(entries, workspace, store=store, flag_names=flag_names, trusted_names=trust.mcp_servers)
    return startable(trusts, mcp_forbidden_variables(settings), warnings)


def mcp_entries(workspace: Path, settings: LoadedSettings) -> tuple[dict[str, McpServerEntry], list[str]]:
    """Every configured MCP server as written (``.mcp.json``, user and project settings)."""
    return load_mcp_entries(
        workspace,
        settings.user.mcpServers or None,
        settings.project.mcpServers or None,
        user_source=str(settings.user_file),
        project_source=str(settings.project_file),
    )


def mcp_forbidden_variables(settings: LoadedSettings) -> frozenset[str]:
    """Provider key variables project MCP servers may not expand (see ``core.mcp.trust``)."""
    key_envs = [p.api_key_env for p in (*settings.user.providers.values(), *settings.project.providers.values())]
    return forbidden_variables(key_envs, allowed=settings.user.trust.mcp_key_variables)


def _elicitation_handler(approver: "Approver | None", engine: PermissionEngine) -> ElicitationHandler:
    """Who answers an MCP server's question: an approver that can show a form (the
    workbench's has ``elicit``), else the unattended policy of the mode in force at the
    time of the question (``auto`` accepts a form whose required fields all have defaults)."""
    form = getattr(approver, "elicit", None)
    if callable(form):
        return form
    auto, manual = default_elicitation_policy(auto=True), default_elicitation_policy(auto=False)

    async def by_mode(server: str, message: str, schema: dict[str, Any]) -> Any:
        policy = auto if str(engine.mode) == "auto" else manual
        return await policy(server, message, schema)

    return by_mode


def _temperature(flag: float | None, setting: float | None, model_id: str) -> float | None:
    if flag is not None:
        return flag
    return setting if setting is not None else default_temperature(model_id)


def _fit_local_model(
    model_id: str, system: str | None, tools: dict[str, Any], max_tokens: int | None, warnings: list[str]
) -> tuple[str | None, dict[str, Any]]:
    """The embedded models cannot use tools and read a few thousand tokens: offer them no
    tools and trim a long agent prompt, each with a warning that says so."""
    provider, model = split_model_id(model_id)
    if provider != LOCAL_PROVIDER:
        return system, tools
    spec = get_local_model(model)
    if tools:
        warnings.append(f"{model_id} cannot use tools; the agent's {len(tools)} tool(s) are not offered to it")
        tools = {}
    if system:
        # The task and the answer need room too: the answer's cap plus a fair question.
        system, notice = fit_system_prompt(system, spec, (max_tokens or spec.max_output) + 1024)
        if notice:
            warnings.append(notice)
    return system, tools


def _fit_subagent(
    model_id: str, system: str | None, tools: dict[str, Any], max_tokens: int | None
) -> tuple[str | None, dict[str, Any], list[str]]:
    notes: list[str] = []
    system, tools = _fit_local_model(model_id, system, tools, max_tokens, notes)
    return system, tools, notes


def context_window(model_id: str, catalog: "ModelCatalog") -> int | None:
    """The model's context window in tokens (None: unknown)."""
    try:
        provider, model = split_model_id(model_id)
    except ValueError:
        return None
    if provider == LOCAL_PROVIDER:
        try:
            return get_local_model(model).context
        except (AgenticFlowError, KeyError, ValueError):
            return None
    info = catalog.get(model_id)
    return info.context if info is not None else None


def _earlier_totals(store: Store, session_id: str) -> SessionTotals:
    """A resumed session's recorded turns (its subagents' included), as totals."""
    totals = SessionTotals()
    for row in store.session_turns(session_id):
        totals.add(
            TurnStats(
                model=row.model,
                input_tokens=row.input_tokens,
                output_tokens=row.output_tokens,
                estimated=row.estimated,
                cost=row.cost,
                ttft_s=None if row.ttft_ms is None else row.ttft_ms / 1000,
                total_s=(row.total_ms or 0.0) / 1000,
                stop_reason=row.stop_reason or "",
            )
        )
    return totals


def _check_model_fit(
    model_id: str, catalog: "ModelCatalog", agent_name: str | None, system: str | None, tools: dict[str, Any],
    warnings: list[str],
) -> dict[str, Any]:
    """Warn when the model cannot use the agent's tools (they are then not offered) or its
    context is too small for the agent's prompt (see ``core.models.fit``)."""
    if split_model_id(model_id)[0] == LOCAL_PROVIDER:
        return tools  # _fit_local_model said it already
    info = catalog.get(model_id)
    if info is None:
        return tools
    fit = model_fit(
        model_id,
        tools=info.tools,
        context=info.context,
        agent=agent_name,
        agent_tools=len(tools),
        prompt_tokens=count_tokens(system) if system and info.context else None,
    )
    warnings.extend(fit.warnings)
    return {} if fit.drop_tools else tools


def _compactor(settings: LoadedSettings, http: HttpClient, warnings: list[str]) -> Compactor:
    ctx = settings.merged.context
    policy = CompactionPolicy(auto=ctx.auto_compact, threshold=ctx.compact_at, keep_turns=ctx.keep_turns, model=ctx.compact_model)
    if not ctx.compact_model:
        return Compactor(policy)
    try:
        provider = make_provider(ctx.compact_model, settings, http=http)
    except (AgenticFlowError, ValueError) as exc:
        warnings.append(f"context.compact_model {ctx.compact_model}: {exc}; summaries use the session's model")
        return Compactor(policy)
    return Compactor(policy, summary_provider=provider, summary_model=ctx.compact_model)


def _what_was_restored(result: RestoreResult, before: str) -> str:
    """The files a restore wrote back and removed, for the note to the model."""
    parts = []
    if result.restored:
        parts.append(f"{', '.join(result.restored)} restored to their state before {before}")
    if result.removed:
        parts.append(f"{', '.join(result.removed)} removed (created since)")
    return "; ".join(parts)


def _settings_files(settings: LoadedSettings, workspace: Path) -> tuple[Path, ...]:
    claude = workspace / ".claude"
    return (settings.user_file, settings.project_file, claude / "settings.json", claude / "settings.local.json")


def _mtimes(paths: tuple[Path, ...]) -> tuple[float | None, ...]:
    out: list[float | None] = []
    for path in paths:
        try:
            out.append(path.stat().st_mtime_ns)
        except OSError:
            out.append(None)
    return tuple(out)


@dataclass(frozen=True)
class ApprovalHints:
    """Hints for a person answering a permission request."""

    always_rule: str | None
    """The rule an "always" answer writes (None when there is no sensible one)."""
    settings_file: Path
    """Where "always" answers are written (the project settings file)."""
    example_rule: str
    """An example rule for this kind of call, for the user's own settings."""


@dataclass
class Runtime:
    """An open session and the resources it holds (HTTP pool, MCP servers, store)."""

    session: "AgentSession"
    settings: LoadedSettings
    agent: "Agent | None"
    model_reason: str
    catalog: "ModelCatalog"
    agents: "AgentCatalog"
    warnings: list[str] = field(default_factory=list)
    _stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    _http: HttpClient = field(default_factory=HttpClient)
    mcp: Any = None
    max_tokens_choice: int | None = None
    sandbox: Sandbox | None = None
    temperature_choice: float | None = None
    options: RunOptions = field(default_factory=RunOptions)
    _settings_mtimes: tuple[float | None, ...] = ()
    earlier: SessionTotals = field(default_factory=SessionTotals)
    """Turns a resumed session had before this run (what :attr:`session_totals` adds)."""
    _note_turn: int | None = None
    """The turn the pending note to the model is about (a rewind before it drops the note)."""

    @classmethod
    async def open(
        cls,
        opts: RunOptions,
        *,
        approver: "Approver | None" = None,
        interactive: bool = False,
        on_notice: Callable[[str], None] | None = None,
        trust_prompt: TrustPrompt | None = None,
    ) -> "Runtime":

        workspace = Path(opts.workspace or ".").resolve()
        settings = load_settings(workspace)
        agents = load_catalog(Path(opts.agents_dir) if opts.agents_dir else None, cwd=workspace)
        store = Store()
        resumed = store.get_session(opts.resume) if opts.resume else None
        if resumed is not None:  # continue on the session's own agent and model unless told otherwise
            opts = replace(opts, agent=opts.agent or resumed.agent or None, model=opts.model or resumed.model or None)
        agent_name = opts.agent or settings.merged.default_agent or "coder"
        agent = agents.get(agent_name)
        catalog = ModelCatalog.load(settings=settings.merged)
        if opts.model == AUTO or (opts.model is None and agent is not None and agent.model == AUTO):

            decision = choose_auto(
                opts.task or "", agent, settings, catalog, store, tools=False if opts.no_tools else None
            )
            if decision.model_id is None:
                raise UnknownModel(f"--model auto found no model to use: {decision.reason}")
            model_id, reason = decision.model_id, decision.reason
        else:
            model_id, reason = choose_model(opts.model, agent, settings)
            if resumed is not None and opts.model == resumed.model:
                reason = f"session {resumed.id}'s model"
        http = HttpClient()
        warnings: list[str] = []
        if catalog.get(model_id) is None and split_model_id(model_id)[0] != LOCAL_PROVIDER:
            warnings.append(
                f"{model_id} is not in the model catalog: its price is unknown (shown as ?); give it one under "
                f"providers.{split_model_id(model_id)[0]}.models in your config file"
            )
        await prepare_model(model_id, on_notice)
        provider = make_provider(
            model_id, settings, base_url=opts.base_url, timeout=opts.timeout, retry=opts.retry, http=http
        )
        stack = AsyncExitStack()
        stack.push_async_callback(http.aclose)
        sandbox = open_sandbox(workspace, settings, warnings, announce=not opts.no_tools)
        stack.callback(sandbox.close)
        try:
            # --approve names a mode ("deny" = ask, answered no); without it the settings' mode applies.
            if opts.approve:
                flag_mode, default_approver = mode_and_approver_for(opts.approve, interactive)
            else:
                flag_mode, default_approver = None, choose_approver(None, interactive)
            engine, rule_warnings = PermissionEngine.from_settings(
                workspace, flag_mode, user_settings=settings.user_file, project_settings=settings.project_file
            )
            engine.sandbox_unavailable = sandbox.status.reason if not sandbox.status.available else None
            engine.network_default = sandbox.network_default
            withheld = engine.withheld_mode
            if withheld is not None and trust_prompt is not None and await trust_prompt.confirm_workspace_mode(withheld):
                TrustStore().trust_workspace(workspace, withheld.mode)
                engine.trust_workspace(withheld.mode)
                rule_warnings = [w for w in rule_warnings if w != withheld.notice]
            warnings.extend(rule_warnings)
            elicit = _elicitation_handler(approver, engine)
            mcp, tools = await _open_tools(
                opts, agent, workspace, settings, stack, warnings, elicit, on_notice, sandbox, engine.mode, trust_prompt
            )
            system = opts.system if opts.system is not None else (agent.prompt if agent else None)
            max_tokens = opts.max_tokens or settings.merged.max_tokens or default_max_tokens(model_id)
            system, tools = _fit_local_model(model_id, system, tools, max_tokens, warnings)
            tools = _check_model_fit(model_id, catalog, agent.name if agent else agent_name, system, tools, warnings)
            compactor = _compactor(settings, http, warnings)
            messages = None
            session_id = None
            history_start = 0
            if resumed is not None:
                session_id = resumed.id
                history_start = store.history_start(resumed.id)
                messages = store.load_messages(resumed.id, start=history_start)
        except BaseException:
            await stack.aclose()  # MCP servers already started must not outlive a failed open
            raise
        name = agent.name if agent else agent_name
        delegation = None
        if isinstance(tools, ToolSet) and tools.delegates is not None:
            context = DelegationContext(
                agents=agents,
                settings=settings,
                open_provider=_provider_opener(opts, settings, model_id, http),
                prepare_model=lambda model: prepare_model(model, on_notice),
                route=_router(settings, catalog, store),
                max_tokens=lambda model: opts.max_tokens or settings.merged.max_tokens or default_max_tokens(model),
                temperature=lambda model: _temperature(opts.temperature, settings.merged.temperature, model),
                fit=_fit_subagent,
                extra_tools=mcp.tools() if mcp is not None else {},
            )
            delegation = Delegation(context, allowed=tools.delegates, path=(name,))
            if delegation.tool is not None:
                tools[delegation.tool.name] = delegation.tool
            else:
                warnings.append(f"agent {name} lists the agent tool but cannot delegate: {delegation.refusal}")
        session = AgentSession(
            provider=provider,
            model_id=model_id,
            workspace=workspace,
            engine=engine,
            approver=approver or default_approver,
            tools=tools,
            delegation=delegation,
            options=SessionOptions(
                system=system,
                agent_name=name,
                max_tokens=max_tokens,
                temperature=_temperature(opts.temperature, settings.merged.temperature, model_id),
                max_turns=opts.max_turns or settings.merged.max_turns or DEFAULT_MAX_TURNS,
            ),
            record=SessionRecord(store=store, audit=AuditLog(store), session_id=session_id, pricing=catalog.cost),
            messages=messages,
            sandbox=sandbox,
        )
        if opts.resume and session_id:
            store.update_session(session_id, model=model_id)
        session.history_start = history_start
        session.context_window = context_window(model_id, catalog)
        session.compactor = compactor
        checkpoints = Checkpoints(workspace, store, lambda: session.session_id)
        if messages:
            checkpoints.load(session.messages, history_start, session.is_prompt)
        session.checkpoints = checkpoints
        return cls(
            session=session,
            settings=settings,
            agent=agent,
            model_reason=reason,
            catalog=catalog,
            agents=agents,
            warnings=warnings,
            _stack=stack,
            _http=http,
            mcp=mcp,
            max_tokens_choice=opts.max_tokens or settings.merged.max_tokens,
            sandbox=sandbox,
            temperature_choice=opts.temperature if opts.temperature is not None else settings.merged.temperature,
            options=opts,
            _settings_mtimes=_mtimes(_settings_files(settings, workspace)),
            earlier=_earlier_totals(store, session_id) if resumed is not None and session_id else SessionTotals(),
        )

    # -- the facade the workbench talks to (it never reaches into the session or engine) --
    @property
    def model_id(self) -> str:
        return self.session.model_id

    @property
    def agent_name(self) -> str | None:
        return self.session.agent_name

    @property
    def session_id(self) -> str | None:
        return self.session.session_id

    @property
    def store(self) -> "Store | None":
        return self.session.store

    @property
    def totals(self) -> SessionTotals:
        """The run's figures, every subagent's included."""
        return self.session.all_totals()

    @property
    def session_totals(self) -> SessionTotals:
        """The stored session's figures: :attr:`totals` plus the turns before a resume."""
        if not self.earlier.turns:
            return self.totals
        return self.earlier.merged([self.totals])

    @property
    def mode(self) -> str:
        """The permission mode in force (``ask``, ``accept-edits``, ``auto``, ``read-only``)."""
        return str(self.session.engine.mode)

    @mode.setter
    def mode(self, mode: str) -> None:
        self.session.engine.mode = parse_mode(mode)

    @property
    def sandbox_status(self) -> SandboxStatus | None:
        """The command sandbox in force (``.summary()`` is a status-bar line; None with no tools)."""
        return self.sandbox.status if self.sandbox is not None else None

    def send(self, text: str) -> AsyncIterator[Event]:
        """Send a user message; the events of the whole exchange (see ``AgentSession.send``)."""
        return self.session.send(text)

    def cancel(self) -> None:
        """Stop the running answer at the next event; what was said is kept."""
        self.session.cancel_event.set()

    def approval_hints(self, request: "PermissionRequest") -> ApprovalHints:
        """What the permission widget offers beside the yes/no: the rule "always" writes."""
        engine = self.session.engine
        return ApprovalHints(
            always_rule=engine.suggest_rule(request),
            settings_file=Path(engine.project_settings_path),
            example_rule=example_rule(request),
        )

    @staticmethod
    def key_status(provider: str, settings: Settings | None) -> str | None:
        """None when ``provider`` can be called, else what to set (``"set OPENROUTER_API_KEY"``)."""
        return key_status(provider, settings)

    @staticmethod
    def needs_key(provider: str, settings: Settings | None) -> bool:
        """Whether ``provider`` is called with an API key (hosted) or without (local servers)."""
        return needs_key(provider, settings)

    @staticmethod
    def known_providers(settings: Settings | None) -> list[str]:
        """Provider names a ``provider:model`` id may start with (presets and settings)."""
        return known_providers(settings)

    @staticmethod
    async def discover_models(settings: Settings) -> list[Discovery]:
        """Ask your OpenAI-compatible servers what they serve (``GET /models``; cached)."""
        return await discover_models(settings)

    @staticmethod
    def enter_key(provider: str, key: str, *, save: bool) -> Path | None:
        """Use ``key`` for ``provider``: saved in the user config file (mode 0600; the file
        is returned), or held in memory for this session only (``save=False``)."""
        path = save_api_key(provider, key) if save else None
        set_session_key(provider, key)  # also now, whatever a project file says about the provider
        return path

    def switch_model(self, model_id: str, base_url: str | None = None) -> list[str]:
        """Use ``model_id`` from the next turn on (await :func:`prepare_model` first for local).

        Returns warnings about the new model (no tools, a context too small for the prompt).
        """
        provider = make_provider(model_id, self.settings, base_url=base_url, http=self._http)
        self.session.switch_model(provider, model_id)
        self.session.max_tokens = self.max_tokens_choice or default_max_tokens(model_id)
        self.session.temperature = _temperature(self.temperature_choice, None, model_id)
        self.session.context_window = context_window(model_id, self.catalog)
        warnings: list[str] = []
        full = self._agent_tools()
        tools = _check_model_fit(model_id, self.catalog, self.agent_name, self.session.system, full, warnings)
        self.session.tools = tools
        return warnings

    def _agent_tools(self) -> dict[str, Any]:
        if self.options.no_tools:
            return {}
        extra = self.mcp.tools() if self.mcp is not None else {}
        tools, _ = tools_for_agent(self.agent.tools if self.agent else None, extra)
        return tools

    # -- long sessions: context, compaction, checkpoints, mentions (see core.context) --
    def context_usage(self) -> ContextUsage:
        """How full the model's context is: used / window tokens (estimated)."""
        return self.session.context_usage()

    def compact(self, instructions: str | None = None) -> AsyncIterator[Event]:
        """Summarise the older turns now (``/compact``); events as ``send`` yields them."""
        return self.session.compact("manual", instructions)

    @property
    def compactions(self) -> int:
        return self.session.compactor.count if self.session.compactor is not None else 0

    def turns(self) -> list[TurnMark]:
        """The prompts of the live conversation, oldest first, with the files each changed."""
        return list(self.session.checkpoints.marks) if self.session.checkpoints is not None else []

    def undo(self) -> tuple[TurnMark, RestoreResult] | None:
        """Restore the files the last turn that changed any changed (``/undo``); the model is
        told before the next prompt. None when no turn changed files."""
        checkpoints = self.session.checkpoints
        mark = checkpoints.last_with_files() if checkpoints is not None else None
        if checkpoints is None or mark is None:
            return None
        result = checkpoints.restore_code(mark)
        if result.changed:
            self.session.pending_note = (
                f"{WORKBENCH_NOTE_START}the user undid the file changes of the turn that began with "
                f"\"{mark.title}\" ({_what_was_restored(result, 'it')}). "
                "Read them again before relying on their contents.]"
            )
            self._note_turn = mark.number
        return mark, result

    def rewind(self, number: int, *, code: bool, conversation: bool) -> RestoreResult:
        """Go back to before turn ``number`` (``/rewind``): restore the files the file tools
        changed since (``code``), forget the turn and everything after it (``conversation``)."""
        checkpoints = self.session.checkpoints
        if checkpoints is None:
            raise AgenticFlowError("This session keeps no checkpoints.")
        mark = checkpoints.find(number)
        result = checkpoints.restore_code(mark) if code else RestoreResult()
        if conversation:
            self.session.rewind_conversation(mark)
            if self._note_turn is not None and self._note_turn >= mark.number:
                self.session.pending_note = None  # about a turn the model no longer sees
                self._note_turn = None
        elif code and result.changed:
            self.session.pending_note = (
                f"{WORKBENCH_NOTE_START}the user went back on the file changes made since the turn that "
                f"began with \"{mark.title}\" ({_what_was_restored(result, 'that turn')}). "
                "Read them again before relying on their contents.]"
            )
            self._note_turn = mark.number
        return result

    async def attach_mentions(self, text: str) -> MentionResult:
        """``@path`` mentions in ``text`` read through the permission engine and appended."""
        session = self.session
        return await attach_mentions(
            text,
            session.workspace,
            session.engine,
            session.approver,
            audit=session.audit,
            session_id=session.session_id,
            agent=session.agent_name,
            model=session.model_id,
        )

    def workspace_files(self, limit: int = 20_000) -> list[str]:
        """Files ``@`` completion offers (deny rules' hidden files left out)."""
        engine = self.session.engine
        return workspace_files(self.session.workspace, lambda rel: engine.path_denied("read", rel) is not None, limit)

    def switch_agent(self, name: str) -> list[str]:
        """Talk to agent ``name`` from the next turn on: its prompt and its tools; the
        conversation is kept. Returns warnings (unknown tools, model fit)."""
        agent = self.agents.get(name)
        warnings: list[str] = []
        extra = self.mcp.tools() if self.mcp is not None else {}
        tools, tool_warnings = tools_for_agent(agent.tools, extra) if not self.options.no_tools else ({}, [])
        warnings.extend(tool_warnings)
        prompt: str | None = self.options.system if self.options.system is not None else agent.prompt
        system, tools = _fit_local_model(self.model_id, prompt, tools, self.session.max_tokens, warnings)
        tools = _check_model_fit(self.model_id, self.catalog, agent.name, system, tools, warnings)
        self.agent = agent
        session = self.session
        session.system, session.tools, session.agent_name = system, tools, agent.name
        if session.store is not None and session.session_id:
            session.store.update_session(session.session_id, agent=agent.name)
        return warnings

    def new_conversation(self) -> str | None:
        """Start over (``/clear``): a new stored session with the same agent, model and
        settings; the current one stays in the store (``/resume`` finds it)."""
        session = self.session
        session.discard_if_empty()
        session.messages = []
        session.totals = type(session.totals)()
        self.earlier = SessionTotals()
        session.history_start = session.context_tokens = session.context_mark = 0
        session.pending_note = None
        session.resumed = False
        if session.store is not None:
            session.session_id = session.store.create_session(
                agent=session.agent_name or "", model=session.model_id, workspace=str(session.workspace)
            )
        session.checkpoints = Checkpoints(session.workspace, session.store, lambda: session.session_id)
        if session.compactor is not None:
            session.compactor.count = 0
        return session.session_id

    def history(self) -> list[Any]:
        """The live conversation (neutral messages), oldest first."""
        return list(self.session.messages)

    @property
    def resumed(self) -> bool:
        return self.session.resumed

    def export(self, path: Path) -> Path:
        """Write the whole conversation as Markdown to ``path`` (relative: to the workspace)."""
        # lazy: only /export renders transcripts
        from agentic_flow.core.context.export import Entry, full_transcript, to_markdown

        session = self.session
        target = path if path.is_absolute() else session.workspace / path
        row = None
        if session.store is not None and session.session_id:
            row = session.store.get_session(session.session_id)
            entries = full_transcript(session.store, session.session_id)
        else:
            entries = [Entry("message", m, i) for i, m in enumerate(session.messages)]
        text = to_markdown(entries, row, title=None if row is not None else f"{self.agent_name or 'agent'} session")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise AgenticFlowError(f"Cannot write {target}: {exc.strerror or exc}") from exc
        return target

    def refresh_settings(self) -> list[str]:
        """Read the settings files again if one changed since the session opened (or since
        the last call): permission rules, sampling, turn limit and compaction take effect at
        once; returns notices saying what was reloaded (empty: nothing changed)."""
        workspace = self.session.workspace
        files = _settings_files(self.settings, workspace)
        mtimes = _mtimes(files)
        if mtimes == self._settings_mtimes:
            return []
        self._settings_mtimes = mtimes
        changed = [str(p) for p, m in zip(files, mtimes) if m is not None]
        try:
            settings = load_settings(workspace)
            engine, warnings = PermissionEngine.from_settings(
                workspace, None, user_settings=settings.user_file, project_settings=settings.project_file
            )
        except ConfigError as exc:
            return [f"Settings changed but cannot be read, the old ones stay in force: {exc}"]
        old = self.session.engine
        old.rules = engine.rules
        old.repo_rules_trusted = old.repo_rules_trusted or engine.repo_rules_trusted
        self.settings = settings
        merged = settings.merged
        opts = self.options
        self.max_tokens_choice = opts.max_tokens or merged.max_tokens
        self.temperature_choice = opts.temperature if opts.temperature is not None else merged.temperature
        self.session.max_tokens = self.max_tokens_choice or default_max_tokens(self.model_id)
        self.session.temperature = _temperature(self.temperature_choice, None, self.model_id)
        self.session.max_turns = opts.max_turns or merged.max_turns or DEFAULT_MAX_TURNS
        self.session.compactor = _compactor(settings, self._http, warnings)
        rules = len(engine.rules.rules)
        return [f"Settings reloaded ({rules} permission rule(s)); the mode stays {self.mode}. Read: "
                + ", ".join(changed)] + warnings

    async def aclose(self) -> None:
        self.session.discard_if_empty()
        await self._stack.aclose()
