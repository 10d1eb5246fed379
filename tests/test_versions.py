"""Versions: ``zmq.__version__`` & co. report the pyzmq and libzmq API levels purezmq
implements, consistently, in pyzmq's shapes; purezmq's own version has names of its own."""

import importlib.metadata
import re
import subprocess
import sys

import pytest

import purezmq
from purezmq.sugar import version as pversion

pytestmark = pytest.mark.timeout(30)


def test_pyzmq_level_is_consistent():
    assert purezmq.__version__ == purezmq.pyzmq_version() == pversion.__version__
    assert re.fullmatch(r"27\.\d+\.\d+", purezmq.__version__)
    info = purezmq.pyzmq_version_info()
    assert info == tuple(int(p) for p in purezmq.__version__.split("."))
    assert info == pversion.version_info
    assert (pversion.VERSION_MAJOR, pversion.VERSION_MINOR, pversion.VERSION_PATCH) == info
    assert pversion.VERSION_EXTRA == "" and purezmq.__revision__ == ""
    assert info >= (13,)  # what applications gate on (a process manager wants >= 13)


def test_libzmq_level_is_consistent():
    assert purezmq.zmq_version_info() == (4, 3, 5)
    assert purezmq.zmq_version() == "4.3.5"
    assert (purezmq.VERSION_MAJOR, purezmq.VERSION_MINOR, purezmq.VERSION_PATCH) == (4, 3, 5)
    assert pversion.zmq_version() == purezmq.zmq_version()
    assert pversion.zmq_version_info() == purezmq.zmq_version_info()


def test_purezmq_own_version_has_its_own_names():
    own = purezmq.purezmq_version()
    assert own == purezmq.__purezmq_version__
    from purezmq._version import __version__

    assert own == __version__ != purezmq.__version__
    # the one source: the installed distribution's metadata comes from _version.py
    assert importlib.metadata.version("purezmq") == own


def test_cli_reports_both():
    r = subprocess.run([sys.executable, "-m", "purezmq", "version"], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert f"purezmq {purezmq.purezmq_version()}\n" in r.stdout
    assert f"pyzmq API {purezmq.pyzmq_version()}" in r.stdout


def test_sugar_version_matches_pyzmq_shape():
    zmq = pytest.importorskip("zmq")
    import zmq.sugar.version as theirs

    names = {n for n in dir(theirs)
             if n.startswith("VERSION_") or n in theirs.__all__ or n == "version_info"}
    assert names <= set(dir(pversion)), names - set(dir(pversion))
    assert pversion.__all__ == theirs.__all__
    for n in names | {"__version__", "__revision__"}:
        mine, ref = getattr(pversion, n), getattr(theirs, n)
        if callable(ref):
            assert type(mine()) is type(ref()), n
        else:
            assert type(mine) is type(ref), n
    # the libzmq level is the one the reference pyzmq bundles; the pyzmq API level is the
    # same major as the reference
    assert pversion.zmq_version_info() == zmq.zmq_version_info()
    assert pversion.VERSION_MAJOR == theirs.VERSION_MAJOR
    assert purezmq.sugar.version is pversion
