"""The sending side of one PGM session (a PUB/XPUB endpoint), without I/O.

State: the transport session identifier (GSI, source port), the next ODATA sequence number,
the transmit window (the last ``window_sqns`` packets' TSDUs, for repairs), the SPM sequence
and schedule, repairs waiting to go out, and a token bucket for ``RATE``.

Outputs are ``(kind, bytes)`` pairs: kind ``"group"`` goes to the multicast group;
the source never sends unicast.  Timers: :meth:`next_timer` / :meth:`poll`.
"""

from __future__ import annotations

from collections import OrderedDict, deque

from purezmq.pgm import packet as P

# libzmq's pgm_socket: SPMs 100 ms after data, backing off to the ambient 30 s.
HEARTBEAT_SPM = (0.1, 0.1, 0.1, 0.1, 1.3, 7.0, 16.0, 25.0, 30.0)
AMBIENT_SPM = 30.0
INITIAL_SPMS = 3
FIN_SPMS = 3


def window_sqns(rate_kbps: int, recovery_ivl_ms: int, max_tpdu: int) -> int:
    """libzmq's ``compute_sqns``: packets of ``max_tpdu`` bytes sent at RATE in RECOVERY_IVL."""
    size = (max(rate_kbps, 1) // 8) * max(recovery_ivl_ms, 0)
    return max(1, size // max(max_tpdu, 1))


class TokenBucket:
    """``rate`` bytes a second with bursts of ``burst`` bytes (``rate`` <= 0: unlimited)."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.tokens = self.burst
        self.stamp = now

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def take(self, size: int, now: float) -> bool:
        if self.rate <= 0:
            return True
        self._refill(now)
        if self.tokens >= size or self.tokens >= self.burst:
            self.tokens -= size
            return True
        return False

    def ready_at(self, size: int, now: float) -> float:
        if self.rate <= 0:
            return now
        self._refill(now)
        need = min(size, self.burst) - self.tokens
        return now if need <= 0 else now + need / self.rate


class Source:
    """One PGM source: ODATA out, NAKs in, NCF + RDATA out, SPMs on schedule."""

    def __init__(
        self,
        *,
        gsi: bytes,
        sport: int,
        dport: int,
        nla: str,
        group: str,
        max_tsdu: int,
        window: int,
        rate_bytes: float,
        header_overhead: int,
        now: float,
        first_sqn: int = 0,
    ) -> None:
        self.gsi = gsi
        self.sport = sport
        self.dport = dport
        self.nla = nla
        self.group = group
        self.max_tsdu = max_tsdu
        self.window_size = max(1, window)
        self.overhead = header_overhead
        self.next_sqn = first_sqn & P.SQN_MASK
        self.window: OrderedDict[int, bytes] = OrderedDict()  # sqn -> TSDU
        self.spm_sqn = 0
        self.repairs: deque[int] = deque()
        self._queued_repairs: set[int] = set()
        # Burst: 100 ms of traffic or one packet, whichever is more.
        self.bucket = TokenBucket(rate_bytes, max(rate_bytes / 10, max_tsdu + 64), now)
        self._spm_due: float | None = now
        self._spm_burst = INITIAL_SPMS
        self._heartbeat = len(HEARTBEAT_SPM)  # index into HEARTBEAT_SPM; past the end: ambient
        self.skip_send: set[int] = set()  # test hook: ODATA sequence numbers to "lose"
        self.stats = {"odata": 0, "rdata": 0, "naks": 0, "ncf": 0, "spm": 0, "bad": 0}

    # -- window ---------------------------------------------------------------------------
    @property
    def lead(self) -> int:
        """The last sequence number sent (one before the first, when none was)."""
        return (self.next_sqn - 1) & P.SQN_MASK

    @property
    def trail(self) -> int:
        """The oldest sequence number still in the window (``lead + 1`` when empty)."""
        if self.window:
            return next(iter(self.window))
        return self.next_sqn

    def can_send(self, size: int, now: float) -> bool:
        return self.bucket.take(size + P.DATA_HEADER_LEN + self.overhead, now)

    def send_ready_at(self, size: int, now: float) -> float:
        return self.bucket.ready_at(size + P.DATA_HEADER_LEN + self.overhead, now)

    def odata(self, tsdu: bytes, now: float) -> bytes | None:
        """Number ``tsdu``, keep it for repairs; the ODATA packet (None: a test hook ate it).

        The caller checked :meth:`can_send` for the rate limit.
        """
        if len(tsdu) > self.max_tsdu:
            raise ValueError("TSDU larger than the maximum")
        sqn = self.next_sqn
        self.next_sqn = (sqn + 1) & P.SQN_MASK
        self.window[sqn] = tsdu
        while len(self.window) > self.window_size:
            old, _ = self.window.popitem(last=False)
            self._queued_repairs.discard(old)
        self._heartbeat = 0
        self._spm_due = now + HEARTBEAT_SPM[0]
        self.stats["odata"] += 1
        if sqn in self.skip_send:
            self.skip_send.discard(sqn)
            return None
        return P.build_data(P.ODATA, self.sport, self.dport, self.gsi, sqn, self.trail, tsdu)

    # -- upstream ---------------------------------------------------------------------------
    def on_packet(self, pkt: P.Packet, now: float) -> list[bytes]:
        """An upstream packet for this session; the NCF / SPM packets to multicast at once."""
        if pkt.gsi != self.gsi or pkt.dport != self.sport or pkt.sport != self.dport:
            return []
        if pkt.type == P.SPMR:
            self.stats["spm"] += 1
            return [self._spm()]
        if pkt.type != P.NAK:
            return []  # NNAK, POLR, ACK: nothing to do for a source without DLRs or PGMCC
        if pkt.flags & P.OPT_PARITY or pkt.nla != self.nla or pkt.group != self.group:
            self.stats["bad"] += 1
            return []
        self.stats["naks"] += 1
        confirmed = []
        for sqn in pkt.sqns:
            if sqn in self.window:
                confirmed.append(sqn)
                if sqn not in self._queued_repairs:
                    self._queued_repairs.add(sqn)
                    self.repairs.append(sqn)
        if not confirmed:
            return []
        self.stats["ncf"] += 1
        return [
            P.build_nak(P.NCF, self.sport, self.dport, self.gsi, confirmed, self.nla, self.group)
        ]

    def rdata(self) -> list[bytes]:
        """The queued repairs (RDATA), sent as soon as they are asked for."""
        out = []
        trail = self.trail
        while self.repairs:
            sqn = self.repairs.popleft()
            self._queued_repairs.discard(sqn)
            tsdu = self.window.get(sqn)
            if tsdu is None:
                continue  # left the window meanwhile
            self.stats["rdata"] += 1
            out.append(P.build_data(P.RDATA, self.sport, self.dport, self.gsi, sqn, trail, tsdu))
        return out

    # -- SPMs -----------------------------------------------------------------------------------
    def _spm(self, fin: bool = False) -> bytes:
        sqn = self.spm_sqn
        self.spm_sqn = (sqn + 1) & P.SQN_MASK
        return P.build_spm(
            self.sport, self.dport, self.gsi, sqn, self.trail, self.lead, self.nla, fin=fin
        )

    def next_timer(self) -> float | None:
        return self._spm_due

    def poll(self, now: float) -> list[bytes]:
        """SPMs that are due."""
        due = self._spm_due
        if due is None or now < due:
            return []
        out = []
        for _ in range(max(1, self._spm_burst)):
            out.append(self._spm())
        self._spm_burst = 1
        if self._heartbeat < len(HEARTBEAT_SPM) - 1:
            self._heartbeat += 1
            self._spm_due = now + HEARTBEAT_SPM[self._heartbeat]
        else:
            self._heartbeat = len(HEARTBEAT_SPM)
            self._spm_due = now + AMBIENT_SPM
        return out

    def fin(self) -> list[bytes]:
        """SPMs announcing the end of the session (OPT_FIN), as OpenPGM sends at close."""
        return [self._spm(fin=True) for _ in range(FIN_SPMS)]
