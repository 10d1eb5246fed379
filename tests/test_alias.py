"""``import zmq`` -> purezmq where asked: the PUREZMQ_AS_ZMQ switch and ``purezmq run``.

Every check runs in a fresh interpreter, since the switch acts at interpreter start (the
``purezmq-as-zmq.pth`` file purezmq installs); pyzmq is installed beside purezmq in the test
environment, so these also show that the alias wins only where it is asked for.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import pytest

import _purezmq_alias as alias

pytestmark = pytest.mark.timeout(60)


def _py(code: str, env_value: str | None = "1", *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop(alias.ENV_VAR, None)
    if env_value is not None:
        env[alias.ENV_VAR] = env_value
    return subprocess.run([sys.executable, *args, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=50)


def _ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_pth_file_is_installed() -> None:
    """The switch needs purezmq-as-zmq.pth in a site directory of this interpreter."""
    found = [p for p in sys.path if os.path.isfile(os.path.join(p, "purezmq-as-zmq.pth"))]
    assert found, "purezmq-as-zmq.pth is not installed: install purezmq with pip (setup.py)"


@pytest.mark.parametrize("name, target", [
    ("zmq", "purezmq"), ("zmq.asyncio", "purezmq.asyncio"),
    ("zmq.utils.z85", "purezmq.utils.z85"), ("zmqx", None), ("pyzmq", None), ("zm", None),
])
def test_target_name(name: str, target: str | None) -> None:
    assert alias.target_name(name) == target


@pytest.mark.parametrize("value, on", [
    ("1", True), ("yes", True), ("true", True), ("", False), ("0", False), ("off", False),
    ("False", False), (" no ", False),
])
def test_enabled_values(value: str, on: bool) -> None:
    assert alias.enabled({alias.ENV_VAR: value}) is on
    assert alias.enabled({}) is False


def test_import_zmq_is_purezmq_one_copy() -> None:
    out = _ok(_py("""
        import zmq, purezmq
        import zmq.asyncio, zmq.utils.z85, zmq.devices
        from zmq import asyncio as a
        from zmq.utils import monitor
        import purezmq.asyncio, purezmq.utils.monitor
        assert zmq is purezmq
        assert zmq.Socket is purezmq.Socket and zmq.Context is purezmq.Context
        assert zmq.asyncio is purezmq.asyncio is a
        assert monitor is purezmq.utils.monitor
        assert zmq.asyncio.Socket.__mro__[1] is purezmq.Socket
        import sys
        assert sys.modules["zmq.asyncio"] is sys.modules["purezmq.asyncio"]
        print(zmq.__name__)
    """))
    assert out.strip() == "purezmq"


def test_missing_submodule_is_module_not_found() -> None:
    out = _ok(_py("""
        try:
            import zmq.no_such_module
        except ModuleNotFoundError as exc:
            print("missing", exc.name)
    """))
    assert out.strip() == "missing zmq.no_such_module"


def test_switch_off_gives_pyzmq() -> None:
    pytest.importorskip("zmq")
    for value in (None, "0", ""):
        out = _ok(_py("import zmq; print(zmq.__name__, hasattr(zmq, 'backend'))", value))
        name = out.split()[0]
        assert name == "zmq", (value, out)


def test_children_inherit_the_switch(tmp_path) -> None:
    script = tmp_path / "kids.py"
    script.write_text(textwrap.dedent("""
        import multiprocessing as mp, subprocess, sys

        def child(q):
            import zmq
            q.put(zmq.__name__)

        if __name__ == "__main__":
            out = [subprocess.run([sys.executable, "-c", "import zmq; print(zmq.__name__)"],
                                  capture_output=True, text=True, check=True).stdout.strip()]
            for method in ("fork", "spawn", "forkserver"):
                ctx = mp.get_context(method)
                q = ctx.Queue()
                p = ctx.Process(target=child, args=(q,))
                p.start()
                out.append(q.get(timeout=30))
                p.join(30)
            print(" ".join(out))
    """))
    env = {**os.environ, alias.ENV_VAR: "1"}
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=55)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["purezmq"] * 4


def test_python_dash_m_through_the_alias() -> None:
    env = {**os.environ, alias.ENV_VAR: "1"}
    proc = subprocess.run([sys.executable, "-m", "zmq", "version"], env=env,
                          capture_output=True, text=True, timeout=50)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("purezmq ")


def test_zmq_imported_first_is_kept_with_a_warning() -> None:
    pytest.importorskip("zmq")
    out = _ok(_py("""
        import warnings, sys
        import zmq
        import _purezmq_alias
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            _purezmq_alias.install()
        import zmq as again
        print(again.__name__, _purezmq_alias.installed(), len(w), w[0].category.__name__)
    """, None))
    assert out.split() == ["zmq", "False", "1", "RuntimeWarning"]


def test_install_is_idempotent() -> None:
    out = _ok(_py("""
        import sys, _purezmq_alias
        _purezmq_alias.install(); _purezmq_alias.install()
        import zmq
        print(sum(isinstance(f, _purezmq_alias.ZmqAliasFinder) for f in sys.meta_path),
              zmq.__name__)
    """, None))
    assert out.split() == ["1", "purezmq"]


def _purezmq_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "purezmq", *args], capture_output=True,
                          text=True, timeout=50, env=env)


def test_purezmq_run_sets_the_switch_and_passes_the_exit_code() -> None:
    env = dict(os.environ)
    env.pop(alias.ENV_VAR, None)
    code = "import sys, zmq; print(zmq.__name__, sys.argv[1:]); sys.exit(7)"
    proc = _purezmq_cli("run", "--", sys.executable, "-c", code, "a b", "--flag", env=env)
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout.strip() == "purezmq ['a b', '--flag']"


def test_purezmq_run_puts_its_python_first_on_path() -> None:
    from purezmq.cli_run import command_env

    env = command_env({"PATH": "/usr/bin"})
    assert env[alias.ENV_VAR] == "1"
    assert env["PATH"].split(os.pathsep) == [os.path.dirname(sys.executable), "/usr/bin"]
    proc = _purezmq_cli("run", "--", "python", "-c",
                        "import sys, zmq; print(sys.executable, zmq.__name__)")
    assert proc.returncode == 0, proc.stderr
    exe, name = proc.stdout.split()
    assert name == "purezmq"
    assert os.path.dirname(exe) == os.path.dirname(sys.executable)


def test_purezmq_run_usage_errors() -> None:
    proc = _purezmq_cli("run")
    assert proc.returncode == 2
    assert "no command given" in proc.stderr
    proc = _purezmq_cli("run", "--", "purezmq-no-such-command-xyz")
    assert proc.returncode == 1
    assert "command not found: purezmq-no-such-command-xyz" in proc.stderr


def test_the_alias_finder_does_not_answer_other_names() -> None:
    finder = alias.ZmqAliasFinder()
    assert finder.find_spec("json") is None
    assert finder.find_spec("zmqfoo") is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec = finder.find_spec("zmq.utils")
    assert spec is not None and spec.name == "zmq.utils"
    assert spec.submodule_search_locations
