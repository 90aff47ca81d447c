# agentic-flow, headless: `agentic-flow run` as a non-root user, policy approver.
#
#   docker build -t agentic-flow .
#   docker run --rm --init -v "$PWD:/workspace" -e OPENROUTER_API_KEY \
#       agentic-flow --model openrouter:deepseek/deepseek-chat --task "explain this repo"
#
# With no person to ask, every tool call the rules and the mode do not allow is denied
# (--approve deny); a later `--approve accept-edits` / `auto` on the command line wins.
# SIGTERM (docker stop) stops the turn like Ctrl-C: partial answer printed and saved,
# commands killed, exit code 143.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY launcher ./launcher
COPY core ./core
COPY tui ./tui
COPY agents ./agents
COPY themes ./themes
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# The state folder exists (owned by the user) before VOLUME, so a new volume inherits that.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin agent \
    && mkdir -p /workspace /home/agent/.agentic-flow \
    && chown agent:agent /workspace /home/agent/.agentic-flow
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl && rm -rf /wheels
USER agent
WORKDIR /workspace
ENV AGENTIC_FLOW_HOME=/home/agent/.agentic-flow \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
VOLUME ["/home/agent/.agentic-flow"]
ENTRYPOINT ["agentic-flow", "run", "--approve", "deny"]
