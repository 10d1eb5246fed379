"""Fuzz the endpoint parser: any input gives an ``Endpoint``, a ``ZMQError`` or a
``TypeError``, and nothing else (no ValueError, UnicodeError, IndexError...).

Only the parser is fuzzed, never ``bind``/``connect``: resolving or connecting to made-up
addresses would send traffic off this machine.  ``ENDPOINT_FUZZ_EXAMPLES=200000`` runs deep.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from purezmq.core import endpoint as endpoints
from purezmq.core.endpoint import Endpoint
from purezmq.error import ZMQError

EXAMPLES = int(os.environ.get("ENDPOINT_FUZZ_EXAMPLES", "1000"))
pytestmark = pytest.mark.timeout(max(120, EXAMPLES // 50))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

# Every code point, surrogates and NUL included.
ANY_CHAR = st.characters(codec=None, categories=None)
TRANSPORTS = st.sampled_from(
    ["tcp", "ipc", "inproc", "pgm", "epgm", "udp", "ws", "TCP", "", "tcp:", "x" * 40]
)
PIECES = st.sampled_from(
    [
        "127.0.0.1", "::1", "[::1]", "[", "]", "*", "lo", "eth0", "0.0.0.0", "localhost",
        ":", ";", "%", "@", "/", "\x00", "239.1.1.1", "[ff02::1]", "65535", "65536", "0",
        "-1", "99999999999999999999", "5_5", " 5", "\u0665\u0665", "1e3", "0x10", "\udc80",
        "é", "/tmp/x", "@abstract", "a" * 120, "tcp://", "://",
    ]
)  # fmt: skip
ADDRESS = st.lists(st.one_of(PIECES, st.text(ANY_CHAR, max_size=8)), max_size=8).map("".join)
STRUCTURED = st.builds(lambda t, a: f"{t}://{a}", TRANSPORTS, ADDRESS)


def _check(text, bind: bool, ipv6: bool) -> None:
    try:
        ep = endpoints.parse(text, bind=bind, ipv6=ipv6)
    except (ZMQError, TypeError):
        return
    assert isinstance(ep, Endpoint)
    assert ep.transport in endpoints.TRANSPORTS
    if ep.transport == "tcp":
        assert 0 <= ep.port < 65536 and ep.host
        assert ep.port or bind, "port 0 is only for bind"
        port_text = ep.address.rsplit(":", 1)[1]
        assert port_text == "*" or port_text.isascii() and "_" not in port_text, port_text
        # What the I/O thread will hand to getaddrinfo / bind must not raise a non-OS error.
        for host in (ep.host, ep.source[0] if ep.source else "x"):
            assert "\0" not in host
            host.encode("idna")
    if ep.transport == "ipc":
        os.fsencode(ep.host)  # what bind()/connect() will do with it
        assert "\0" not in ep.host or ep.host.startswith("\0")


@FUZZ
@given(st.one_of(st.text(ANY_CHAR, max_size=60), STRUCTURED), st.booleans(), st.booleans())
@example("tcp://a\x00b:5555", True, False)
@example("tcp://\udc80:1", True, False)
@example("ipc://\udc80", False, False)
@example("tcp://127.0.0.1:\u0665\u0665", False, False)
@example("pgm://eth0;239.1.1.1:5555", False, False)
@example("tcp://[::1]:0", True, True)
@example("tcp://a..b:5555", False, False)
@example("tcp://127.0.0.1;\udc80:1", False, False)
@example("ipc://a\x00b", True, False)
@example("ipc://@a\x00b", True, False)
def test_any_string(text, bind, ipv6):
    _check(text, bind, ipv6)


@FUZZ
@given(st.one_of(st.none(), st.integers(), st.binary(), st.lists(st.text(max_size=3))))
def test_non_strings_are_type_errors(value):
    with pytest.raises(TypeError):
        endpoints.parse(value, bind=False)
