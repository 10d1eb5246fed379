"""Which socket types may talk to which (RFC 37 and the pattern RFCs)."""

from __future__ import annotations

COMPATIBLE: dict[str, frozenset[str]] = {
    "PAIR": frozenset({"PAIR"}),
    "PUB": frozenset({"SUB", "XSUB"}),
    "SUB": frozenset({"PUB", "XPUB"}),
    "REQ": frozenset({"REP", "ROUTER"}),
    "REP": frozenset({"REQ", "DEALER"}),
    "DEALER": frozenset({"REP", "DEALER", "ROUTER"}),
    "ROUTER": frozenset({"REQ", "DEALER", "ROUTER"}),
    "PULL": frozenset({"PUSH"}),
    "PUSH": frozenset({"PULL"}),
    "XPUB": frozenset({"SUB", "XSUB"}),
    "XSUB": frozenset({"PUB", "XPUB"}),
    "SERVER": frozenset({"CLIENT"}),
    "CLIENT": frozenset({"SERVER"}),
    "RADIO": frozenset({"DISH"}),
    "DISH": frozenset({"RADIO"}),
    "GATHER": frozenset({"SCATTER"}),
    "SCATTER": frozenset({"GATHER"}),
    "PEER": frozenset({"PEER"}),
    "CHANNEL": frozenset({"CHANNEL"}),
}


def compatible(ours: str, theirs: str) -> bool:
    """True when a socket of type ``ours`` accepts a peer of type ``theirs`` (spelled
    exactly: libzmq refuses ``dealer`` for ``DEALER``)."""
    return theirs in COMPATIBLE.get(ours, frozenset())
