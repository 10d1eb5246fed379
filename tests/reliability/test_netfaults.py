"""Network faults between two private network namespaces (see :mod:`netlab`): loss, delay,
reordering and a silent partition, with a purezmq process on side A and a pyzmq or purezmq
process on side B.  Needs root and ``ip netns``; skipped otherwise and in CI (set
``PUREZMQ_NETNS=1`` to run them there).  The long version is ``scripts/reliability/netfaults.py``.
"""

from __future__ import annotations

import netlab
import netscenarios as sc
import pytest

pytestmark = [pytest.mark.netns, pytest.mark.timeout(90)]

LIBS = ["pyzmq", "purezmq"]


@pytest.fixture(scope="module")
def lab():
    why = netlab.unavailable()
    if why:
        pytest.skip(why)
    with netlab.NetLab() as lab:
        yield lab


@pytest.mark.parametrize("lib", LIBS)
def test_traffic_completes_under_5_percent_loss(lab, lib):
    r = sc.loss_scenario(lab, lib, 5601 + LIBS.index(lib), 2000)
    print(f"\nFIGURES loss 5% [{lib}]: {r}")


@pytest.mark.parametrize("lib", LIBS)
def test_req_rep_under_delay_and_reordering(lab, lib):
    r = sc.reorder_scenario(lab, lib, 5611 + LIBS.index(lib), 100)
    print(f"\nFIGURES delay+reorder [{lib}]: {r}")


@pytest.mark.parametrize("lib", LIBS)
def test_heartbeat_detects_a_silent_partition_and_traffic_resumes(lab, lib):
    """With CONNECT_TIMEOUT the reconnection does not wait for the kernel's SYN back-off."""
    r = sc.partition_scenario(lab, lib, 5621 + LIBS.index(lib), down=4.0, connect_timeout=500)
    assert r["detect_ms"] < sc.HB_TIMEOUT + sc.HB_IVL + 1000
    assert r["resume_ms"] < 500 + sc.RECONNECT_IVL_MAX + 1500
    print(f"\nFIGURES partition [{lib}]: {r}")
