"""Every ```python block of README.md and docs/guide/*.md runs as-is.

Each block is a separate program: it runs in a fresh interpreter (cwd: a temporary directory,
``PYTHONPATH=src``) and must exit 0 within ``BLOCK_TIMEOUT`` seconds.  Blocks that are not
meant to run use another info string (```python-norun, ```text, ```console, ...).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
GUIDE = ROOT / "docs" / "guide"
DOCS = [ROOT / "README.md", *sorted(GUIDE.glob("*.md")), ROOT / "docs" / "COMPATIBILITY.md"]
GUIDE_PAGES = [
    "index", "patterns", "transports", "security", "asyncio", "green", "cli", "run-pyzmq-apps",
]
BLOCK_TIMEOUT = 45

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")


def _blocks(path: Path) -> list[tuple[int, str, str]]:
    """(line number, info string, code) of each fenced block of a Markdown file."""
    blocks = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info, start = m["fence"], m["info"].strip(), i + 1
        body = []
        i += 1
        while i < len(lines) and not (
            lines[i].strip().startswith(fence[0] * len(fence))
            and lines[i].strip().strip(fence[0]) == ""
        ):
            body.append(lines[i])
            i += 1
        if i >= len(lines):
            raise AssertionError(f"{path.name}:{start}: unterminated code block")
        blocks.append((start, info, "\n".join(body) + "\n"))
        i += 1
    return blocks


def _python_blocks() -> list:
    params = []
    for path in DOCS:
        if not path.exists():
            continue
        for line, info, code in _blocks(path):
            if info.split(None, 1)[0:1] == ["python"]:
                rel = path.relative_to(ROOT).as_posix()
                params.append(pytest.param(code, id=f"{rel}:{line}"))
    return params


PY_BLOCKS = _python_blocks()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONWARNINGS", None)
    return env


def _have_nacl() -> bool:
    try:
        import nacl  # noqa: F401
    except ImportError:
        return False
    return True


def _have_tornado() -> bool:
    try:
        import tornado  # noqa: F401
    except ImportError:
        return False
    return True


def _have_gevent() -> bool:
    try:
        import gevent  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("code", PY_BLOCKS)
def test_python_block_runs(code, tmp_path):
    if ("curve_" in code or "create_certificates" in code) and not _have_nacl():
        pytest.skip("CURVE example: needs PyNaCl (pip install purezmq[curve])")
    if "purezmq.eventloop" in code and not _have_tornado():
        pytest.skip("tornado example: needs tornado (pip install purezmq[eventloop])")
    if "purezmq.green" in code and not _have_gevent():
        pytest.skip("gevent example: needs gevent (pip install purezmq[green])")
    script = tmp_path / "block.py"
    script.write_text(code, encoding="utf-8")
    try:
        proc = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, env=_env(),
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=BLOCK_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"block did not finish in {BLOCK_TIMEOUT}s:\n{exc.stdout}\n{exc.stderr}")
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    )


def test_the_guide_is_there():
    for page in GUIDE_PAGES:
        assert (GUIDE / f"{page}.md").is_file(), f"docs/guide/{page}.md is missing"
    assert (ROOT / "docs" / "COMPATIBILITY.md").is_file()
    # Each page except the index teaches with at least one runnable example.
    for page in GUIDE_PAGES:
        if page in ("index", "cli"):
            continue
        found = [b for b in _blocks(GUIDE / f"{page}.md") if b[1] == "python"]
        assert found, f"docs/guide/{page}.md has no runnable python block"


def test_every_python_like_block_is_marked():
    """A Python-looking block is either ```python (run) or explicitly opted out."""
    allowed = {"python", "python-norun", "text", "console", "sh", "shell", "bash", "toml", ""}
    for path in DOCS:
        if not path.exists():
            continue
        for line, info, _ in _blocks(path):
            word = info.split(None, 1)[0] if info else ""
            assert word in allowed, f"{path.name}:{line}: unexpected info string {info!r}"


def test_guide_links_resolve():
    """Relative links between the Markdown files point at files that exist."""
    link = re.compile(r"\]\((?!https?://|#|mailto:)([^)#\s]+)")
    for path in DOCS:
        if not path.exists():
            continue
        for target in link.findall(path.read_text(encoding="utf-8")):
            assert (path.parent / target).exists(), f"{path.name}: broken link {target}"


def test_quick_start_block_is_two_commands():
    """CI runs the second line of README's Quick start block; keep it two commands."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = _blocks_from_text(section)
    assert blocks, "README's Quick start has no code block"
    lines = [ln for ln in blocks[0].splitlines() if ln.strip()]
    assert len(lines) == 2, lines
    assert "pytest" in lines[1]


def _blocks_from_text(text: str) -> list[str]:
    return re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S)
