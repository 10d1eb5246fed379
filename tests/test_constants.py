"""purezmq.constants and purezmq.error against pyzmq, the reference."""

from __future__ import annotations

import enum
import errno
import pickle

import pytest

zmq = pytest.importorskip("zmq")
import zmq.constants as zconst  # noqa: E402
import zmq.error as zerror  # noqa: E402

from purezmq import constants, error  # noqa: E402

pytestmark = pytest.mark.timeout(30)

ENUM_CLASSES = sorted(
    name
    for name in zconst.__all__
    if isinstance(getattr(zconst, name), type)
    and issubclass(getattr(zconst, name), enum.Enum)
    and getattr(zconst, name).__module__ == "zmq.constants"
)

ERROR_CLASSES = [
    "ZMQBaseError",
    "ZMQError",
    "Again",
    "ContextTerminated",
    "InterruptedSystemCall",
    "NotDone",
    "ZMQBindError",
    "ZMQVersionError",
    "DraftFDWarning",
]

SAMPLE_ERRNOS = sorted(
    {int(e) for e in zmq.Errno} | {0, errno.EINTR, errno.ENOENT, errno.EPIPE, 12345}
)


def test_all_matches_pyzmq():
    assert set(constants.__all__) == set(zconst.__all__)
    assert len(constants.__all__) == len(set(constants.__all__))


@pytest.mark.parametrize("name", zconst.__all__)
def test_flat_name(name):
    ref = getattr(zconst, name)
    ours = getattr(constants, name)
    if isinstance(ref, type):
        assert isinstance(ours, type)
        assert ours.__name__ == ref.__name__
    else:
        assert type(ours).__name__ == type(ref).__name__
        assert int(ours) == int(ref)
        assert ours.name == ref.name


def test_enum_classes_found():
    assert len(ENUM_CLASSES) == 13
    assert "SocketOption" in ENUM_CLASSES and "Errno" in ENUM_CLASSES


@pytest.mark.parametrize("name", ENUM_CLASSES)
def test_enum_class(name):
    ref = getattr(zconst, name)
    ours = getattr(constants, name)
    # same enum base type (IntEnum vs IntFlag)
    assert [b.__name__ for b in ours.__mro__[1:]] == [b.__name__ for b in ref.__mro__[1:]]
    # same members in the same order, aliases included, resolving to the same canonical names
    ours_members = {k: (int(v), v.name) for k, v in ours.__members__.items()}
    ref_members = {k: (int(v), v.name) for k, v in ref.__members__.items()}
    assert list(ours_members) == list(ref_members)
    assert ours_members == ref_members
    # same global (flat) names
    ref_global = getattr(ref, "_global_name", lambda n: n)
    ours_global = getattr(ours, "_global_name", lambda n: n)
    for member in ref.__members__:
        assert ours_global(member) == ref_global(member)


def test_socket_option_types():
    for member_name, ref in zmq.SocketOption.__members__.items():
        ours = constants.SocketOption[member_name]
        assert ours._opt_type.value == ref._opt_type.value, member_name
        assert constants.OPTION_TYPES[int(ref)] == ref._opt_type.value
    assert set(constants.OPTION_TYPES) == {int(o) for o in zmq.SocketOption}
    assert constants.SocketOption(5) is constants.SocketOption.ROUTING_ID
    assert constants.IDENTITY is constants.ROUTING_ID
    assert constants.OPTION_TYPES[constants.IDENTITY] == "bytes"
    assert constants.OPTION_TYPES[constants.AFFINITY] == "int64"
    assert constants.OPTION_TYPES[constants.FD] == "fd"
    assert constants.OPTION_TYPES[constants.LINGER] == "int"


def test_flag_arithmetic():
    assert constants.POLLIN | constants.POLLOUT == 3
    assert repr(constants.Flag(3)) == repr(zmq.Flag(3))
    assert repr(constants.Event(3)) == repr(zmq.Event(3))
    assert constants.Event.ALL_V2 == zmq.Event.ALL_V2 == 0x1FFFF


def test_errno_values():
    assert constants.EAGAIN == errno.EAGAIN
    assert constants.EHOSTUNREACH == errno.EHOSTUNREACH
    assert constants.EFSM == 156384712 + 51
    assert constants.ETERM == 156384712 + 53


# ---------------------------------------------------------------------------
# error.py
# ---------------------------------------------------------------------------


def test_error_all_matches_pyzmq():
    assert set(error.__all__) == set(zerror.__all__)


@pytest.mark.parametrize("name", ERROR_CLASSES)
def test_error_hierarchy(name):
    ours = getattr(error, name)
    ref = getattr(zerror, name)
    assert [c.__name__ for c in ours.__mro__] == [c.__name__ for c in ref.__mro__]
    for other in ERROR_CLASSES:
        assert issubclass(ours, getattr(error, other)) == issubclass(ref, getattr(zerror, other))


@pytest.mark.parametrize("num", SAMPLE_ERRNOS)
def test_strerror(num):
    assert error.strerror(num) == zmq.strerror(num)
    ours = error.ZMQError(num)
    ref = zmq.ZMQError(num)
    assert ours.errno == ref.errno
    assert ours.strerror == ref.strerror
    assert str(ours) == str(ref)
    assert repr(ours) == repr(ref)


def test_zmqerror_constructor_variants():
    for args in [("bad thing",), (constants.EFSM, "custom"), (constants.EINVAL,)]:
        ours = error.ZMQError(*args)
        ref = zmq.ZMQError(*args)
        assert (ours.errno, ours.strerror, ours.args) == (ref.errno, ref.strerror, ref.args)
        assert repr(ours) == repr(ref)
    # ZMQ_EAGAIN given to the base class does not produce a subclass, as in pyzmq
    assert type(error.ZMQError(constants.EAGAIN)) is error.ZMQError
    assert type(zmq.ZMQError(zmq.EAGAIN)) is zmq.ZMQError


@pytest.mark.parametrize("name", ["Again", "ContextTerminated", "InterruptedSystemCall"])
def test_errno_subclasses(name):
    ours = getattr(error, name)("ignored", "also ignored")
    ref = getattr(zerror, name)("ignored", "also ignored")
    assert ours.errno == ref.errno
    assert str(ours) == str(ref)
    assert repr(ours) == repr(ref)
    assert ours.args == ref.args


def test_error_for_picks_subclass():
    cases = {
        constants.EAGAIN: error.Again,
        constants.ETERM: error.ContextTerminated,
        errno.EINTR: error.InterruptedSystemCall,
        constants.EFSM: error.ZMQError,
        constants.EHOSTUNREACH: error.ZMQError,
    }
    for num, cls in cases.items():
        exc = error.error_for(num)
        assert type(exc) is cls
        assert exc.errno == num
        assert str(exc).startswith(zmq.strerror(num))
        assert error.zmq_errno() == num
    exc = error.error_for(constants.EINVAL, "custom text")
    assert str(exc) == "custom text"
    assert isinstance(error.error_for(errno.EINTR), InterruptedError)


def test_check_rc():
    error._check_rc(0)
    with pytest.raises(error.Again):
        error._check_rc(-1, constants.EAGAIN)
    with pytest.raises(error.ContextTerminated):
        error._check_rc(-1, constants.ETERM)
    with pytest.raises(error.ZMQError) as info:
        error._check_rc(-1, constants.EFSM)
    assert info.value.errno == constants.EFSM


def test_errors_pickle():
    for exc in [error.ZMQError(constants.EFSM), error.Again(), error.ContextTerminated()]:
        clone = pickle.loads(pickle.dumps(exc))
        assert type(clone) is type(exc)
        assert (clone.errno, str(clone)) == (exc.errno, str(exc))


def test_version_error(monkeypatch):
    monkeypatch.setattr(error, "_zmq_version", "4.3.5")
    monkeypatch.setattr(zerror, "_zmq_version", "4.3.5")
    ours = error.ZMQVersionError("4.4", "Widgets")
    ref = zerror.ZMQVersionError("4.4", "Widgets")
    assert str(ours) == str(ref)
    assert repr(ours) == repr(ref)
    monkeypatch.setattr(error, "_zmq_version_info", (4, 3, 5))
    error._check_version((4, 3), "Old feature")
    with pytest.raises(error.ZMQVersionError, match="New feature requires libzmq >= 4.4"):
        error._check_version((4, 4), "New feature")


def test_no_pyzmq_import():
    import ast
    import pathlib

    for mod in (constants, error):
        tree = ast.parse(pathlib.Path(mod.__file__).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            assert not any(n == "zmq" or n.startswith("zmq.") for n in names)
