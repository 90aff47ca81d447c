"""Import direction and start-up cost: core never loads Textual; --help loads neither Textual nor MCP."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

from agentic_flow import core


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_core_never_imports_textual():
    modules = [m.name for m in pkgutil.walk_packages(core.__path__, "agentic_flow.core.")]
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    code += "print('textual' in sys.modules)"
    assert _run(code).strip() == "False"


def test_help_loads_neither_textual_nor_mcp():
    code = (
        "import sys, contextlib, io\n"
        "from agentic_flow.main import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    try:\n        main(['--help'])\n"
        "    except SystemExit:\n        pass\n"
        "assert 'run' in buf.getvalue()\n"
        "print(sorted(m for m in ('textual', 'mcp', 'httpx') if m in sys.modules))"
    )
    assert _run(code).strip() == "[]"
