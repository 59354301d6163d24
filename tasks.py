#!/usr/bin/env python3
"""
The two developer commands of the README, needing nothing but Python 3:

    python3 tasks.py serve [twistd pyhandlers options]   # serves examples/
    python3 tasks.py test  [pytest options]              # lint, types, tests, docs

Both create (or reuse) a virtual environment in ``.venv`` and install the
package there, editable, with what the command needs; the installation is
redone only when ``setup.py`` changes.  ``.ci/run`` calls ``test``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import List, NoReturn

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / "installed.stamp"


def run(command: List[str], **kwargs: object) -> None:
    """Run ``command``, stopping everything if it fails."""
    print("+", " ".join(str(part) for part in command), flush=True)
    result = subprocess.run(command, cwd=ROOT, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        sys.exit(result.returncode)


#: One environment serves both commands, so switching between them never
#: reinstalls anything.
EXTRAS = "test,docs,lint"


def ensureEnvironment(extras: str = EXTRAS) -> None:
    """
    Create ``.venv`` if missing and (re)install the package with ``extras``
    when ``setup.py`` changed since last time.
    """
    if not PYTHON.exists():
        print(f"Creating a virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "setup.py").read_bytes() + extras.encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    # "compat" editable mode puts the checkout itself on sys.path, which is
    # what lets twistd find the plugin in twisted/plugins/ of the checkout.
    run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    run(
        [str(PYTHON), "-m", "pip", "install", "--quiet", "--editable", f".[{extras}]",
         "--config-settings", "editable_mode=compat"]
    )
    STAMP.write_text(wanted)


def environment() -> dict:
    """The environment for commands run in the venv (its bin/ first on PATH)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def serve(arguments: List[str]) -> NoReturn:
    """Serve ``examples/`` on http://127.0.0.1:8000/ (or the --listen given)."""
    ensureEnvironment()
    command = [str(BIN / "twistd"), "--nodaemon", "--pidfile=", "pyhandlers", "--root", str(ROOT / "examples")]
    os.chdir(ROOT)
    os.execve(command[0], command + arguments, environment())


def test(arguments: List[str]) -> None:
    """Lint, type-check, run the whole test suite, build the docs."""
    ensureEnvironment()
    env = environment()
    run([str(BIN / "ruff"), "check", "twisted_pyhandlers", "tests", "bench", "tasks.py"], env=env)
    run([str(BIN / "mypy"), "twisted_pyhandlers"], env=env)
    run([str(PYTHON), "-b", "-m", "pytest", "-q", *arguments], env=env)
    run([str(BIN / "sphinx-build"), "-W", "-q", "-b", "html", "docs", "docs/_build/html"], env=env)


def main(argv: List[str]) -> None:
    if len(argv) < 2 or argv[1] not in ("serve", "test"):
        sys.exit(__doc__)
    if argv[1] == "serve":
        serve(argv[2:])
    test(argv[2:])


if __name__ == "__main__":
    main(sys.argv)
