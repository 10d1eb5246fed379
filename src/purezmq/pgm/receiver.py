"""The receiving side of PGM (a SUB/XSUB endpoint), without I/O.

Each source, by transport session identifier (GSI, source port), has a receive window:

* ``next``: the next sequence number to deliver; ``lead``: the highest one known to exist
  (from ODATA, RDATA or an SPM's leading edge); between them, each number is *buffered*
  (arrived out of order), *missing* (being NAKed) or *lost* (given up).
* The window is defined by the first SPM (from its leading edge + 1: a late joiner does not
  ask for the past) or the first ODATA (from its own number).
* A missing number waits a random back-off (up to ``NAK_BO_IVL``), is NAKed to the source's
  NLA (learnt from SPMs; asked for with an SPMR), then waits ``NAK_RPT_IVL`` for an NCF and
  ``NAK_RDATA_IVL`` for the RDATA, retrying up to the limits libzmq gives OpenPGM.  It is lost
  when the retries run out or when the source's trailing edge passes it (out of the source's
  transmit window, so beyond repair).
* Delivery is in order; a lost number resets the source's decoder, which rejoins at the next
  message start (as libzmq's ``pgm_receiver`` does after a PGM reset).

Every limit is bounded: the window by ``max_window`` packets, the sources by ``MAX_PEERS``,
so forged or corrupt packets cost at most that much memory.  Outputs of :meth:`on_packet`
and :meth:`poll` are ``(messages, packets)``; a packet is ``(address, bytes)`` where the
address is None for the multicast group, else the unicast IP address to send to.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from purezmq.pgm import packet as P
from purezmq.pgm.framing import ApduDecoder

# libzmq's receiver settings for OpenPGM (pgm_socket.cpp)
NAK_BO_IVL = 0.05
NAK_RPT_IVL = 0.2
NAK_RDATA_IVL = 0.2
NAK_DATA_RETRIES = 50
NAK_NCF_RETRIES = 50
SPMR_EXPIRY = 0.025
PEER_EXPIRY = 300.0
MAX_PEERS = 256

BACKOFF, WAIT_NCF, WAIT_DATA = 0, 1, 2
_M = P.SQN_MASK


class Missing:
    __slots__ = ("state", "due", "ncf_retries", "data_retries")

    def __init__(self, due: float) -> None:
        self.state = BACKOFF
        self.due = due
        self.ncf_retries = 0
        self.data_retries = 0


class PeerWindow:
    """What a receiver knows of one source."""

    def __init__(self, tsi: tuple[bytes, int], src_addr: str | None, max_msg_size: int, now: float):
        self.tsi = tsi
        self.src_addr = src_addr
        self.nla: str | None = None
        self.defined = False
        self.next = 0
        self.lead = _M
        self.trail: int | None = None
        self.spm_sqn: int | None = None
        self.buffer: dict[int, bytes] = {}
        self.missing: dict[int, Missing] = {}
        self.lost: set[int] = set()
        self.decoder = ApduDecoder(max_msg_size)
        self.spmr_due: float | None = None
        self.far: int | None = None  # a far jump ahead, believed when a second packet agrees
        self.last_seen = now
        self.fin = False
        self.stats = {"delivered": 0, "lost": 0, "repaired": 0, "naks": 0, "bad_framing": 0}


class Receiver:
    """All sources heard on one endpoint (group + data-destination port)."""

    def __init__(
        self,
        *,
        dport: int,
        group: str,
        max_window: int,
        max_msg_size: int = -1,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.dport = dport
        self.group = group
        self.max_window = max(1, max_window)
        self.max_msg_size = max_msg_size
        self.rng = rng
        self.peers: dict[tuple[bytes, int], PeerWindow] = {}
        self.skip_receive: set[int] = set()  # test hook: ODATA sequence numbers to "lose"
        self.stats = {"packets": 0, "ignored": 0}

    # -- input --------------------------------------------------------------------------------
    def on_packet(self, pkt: P.Packet, src_addr: str | None, now: float):
        """One parsed packet heard on the group; returns ``(messages, packets)``."""
        messages: list[list[bytes]] = []
        out: list[tuple[str | None, bytes]] = []
        self.stats["packets"] += 1
        ptype = pkt.type
        if ptype == P.SPMR:
            # Another receiver asked for an SPM: ours would be redundant (RFC 3208 13.6).
            peer = self.peers.get((pkt.gsi, pkt.dport))
            if peer is not None and pkt.sport == self.dport and peer.spmr_due is not None:
                peer.spmr_due = now + NAK_RPT_IVL
            return messages, out
        if ptype not in (P.SPM, P.ODATA, P.RDATA, P.NCF) or pkt.dport != self.dport:
            self.stats["ignored"] += 1
            return messages, out
        tsi = (pkt.gsi, pkt.sport)
        peer = self.peers.get(tsi)
        if peer is None:
            if ptype not in (P.SPM, P.ODATA) or len(self.peers) >= MAX_PEERS:
                return messages, out
            peer = PeerWindow(tsi, src_addr, self.max_msg_size, now)
            self.peers[tsi] = peer
        peer.last_seen = now
        if ptype == P.SPM:
            self._on_spm(peer, pkt, now, messages)
        elif ptype == P.NCF:
            if pkt.group == self.group:
                for sqn in pkt.sqns:
                    m = peer.missing.get(sqn)
                    if m is not None:
                        m.state = WAIT_DATA
                        m.due = now + NAK_RDATA_IVL
        else:
            if ptype == P.ODATA and pkt.sqn in self.skip_receive:
                self.skip_receive.discard(pkt.sqn)
                return messages, out
            self._on_data(peer, pkt, now, messages)
        return messages, out

    def _define(self, peer: PeerWindow, next_sqn: int) -> None:
        peer.defined = True
        peer.next = next_sqn & _M
        peer.lead = (next_sqn - 1) & _M

    def _plausible(self, peer: PeerWindow, lead: int) -> bool:
        """A jump of more than the window ahead is believed once a second packet agrees.

        PGM has no authentication: this only keeps one corrupt or forged sequence number
        from throwing a source's window away.
        """
        if not P.sqn_lt(peer.lead, lead) or P.sqn_diff(lead, peer.lead) <= self.max_window:
            return True
        far = peer.far
        if far is not None and abs(P.sqn_diff(lead, far)) <= self.max_window:
            peer.far = None
            return True
        peer.far = lead
        return False

    def _on_spm(self, peer: PeerWindow, pkt: P.Packet, now: float, messages: list) -> None:
        # Out-of-order SPMs are harmless here (the lead and trail only move forward), so
        # the SPM sequence number is not checked: a forged one cannot mute the real ones.
        if peer.defined and not self._plausible(peer, pkt.lead):
            return
        peer.spm_sqn = pkt.sqn
        peer.nla = pkt.nla
        peer.spmr_due = None
        if pkt.fin:
            peer.fin = True
        if not peer.defined:
            self._define(peer, pkt.lead + 1)
            return
        if P.sqn_lte(pkt.trail, (pkt.lead + 1) & _M):
            self._update_trail(peer, pkt.trail, messages)
        self._extend(peer, pkt.lead, now, messages, arrived=False)
        self._deliver(peer, messages)

    def _on_data(self, peer: PeerWindow, pkt: P.Packet, now: float, messages: list) -> None:
        sqn = pkt.sqn
        if not peer.defined:
            if pkt.type != P.ODATA:
                return
            self._define(peer, sqn)
        if not self._plausible(peer, sqn):
            return
        if peer.nla is None and peer.spmr_due is None:
            peer.spmr_due = now + SPMR_EXPIRY
        if P.sqn_lte(pkt.trail, sqn):  # the packet itself is in the source's window
            self._update_trail(peer, pkt.trail, messages)
        if P.sqn_lt(sqn, peer.next) or sqn in peer.buffer:
            return  # delivered or buffered already
        if P.sqn_lt(peer.lead, sqn):
            self._extend(peer, sqn, now, messages, arrived=True)
            if P.sqn_lt(sqn, peer.next):
                return
        m = peer.missing.pop(sqn, None)
        if m is not None:
            peer.stats["repaired"] += 1
        peer.lost.discard(sqn)
        peer.buffer[sqn] = pkt.data
        self._deliver(peer, messages)

    def _extend(
        self, peer: PeerWindow, lead: int, now: float, messages: list, *, arrived: bool
    ) -> None:
        """The source has sent up to ``lead`` (which just ``arrived``, or was announced by
        an SPM): what we have not seen is missing."""
        if not P.sqn_lt(peer.lead, lead):
            return
        # Keep at most max_window numbers between next and lead; older ones are given up.
        if P.sqn_diff(lead, peer.next) >= self.max_window:
            self._skip_to(peer, (lead - self.max_window + 1) & _M, messages)
        trail = peer.trail
        end = lead if arrived else (lead + 1) & _M
        sqn = (peer.lead + 1) & _M
        while P.sqn_lt(sqn, end):
            if sqn not in peer.buffer and sqn not in peer.missing:
                if trail is not None and P.sqn_lt(sqn, trail):
                    peer.lost.add(sqn)  # already out of the source's window
                else:
                    peer.missing[sqn] = Missing(now + self.rng() * NAK_BO_IVL)
            sqn = (sqn + 1) & _M
        peer.lead = lead

    def _update_trail(self, peer: PeerWindow, trail: int, messages: list) -> None:
        """The source can no longer repair anything before ``trail``."""
        if peer.trail is not None and not P.sqn_lt(peer.trail, trail):
            return
        peer.trail = trail
        if not peer.missing and not peer.lost:
            return
        gone = [s for s in peer.missing if P.sqn_lt(s, trail)]
        for s in gone:
            del peer.missing[s]
            peer.lost.add(s)
        if gone:
            self._deliver(peer, messages)

    def _skip_to(self, peer: PeerWindow, new_next: int, messages: list) -> None:
        """Deliver or give up everything before ``new_next``."""
        if not P.sqn_lt(peer.next, new_next):
            return
        expected = peer.next
        for sqn in sorted(
            (s for s in peer.buffer if P.sqn_lt(s, new_next)),
            key=lambda s: P.sqn_diff(s, peer.next),
        ):
            if sqn != expected:
                self._lose(peer)
            self._feed(peer, peer.buffer.pop(sqn), messages)
            expected = (sqn + 1) & _M
        if expected != new_next:
            self._lose(peer)
        for s in [s for s in peer.missing if P.sqn_lt(s, new_next)]:
            del peer.missing[s]
        peer.lost = {s for s in peer.lost if not P.sqn_lt(s, new_next)}
        peer.next = new_next
        if P.sqn_lt(peer.lead, (new_next - 1) & _M):
            peer.lead = (new_next - 1) & _M

    def _lose(self, peer: PeerWindow) -> None:
        peer.stats["lost"] += 1
        peer.decoder.reset()

    def _feed(self, peer: PeerWindow, apdu: bytes, messages: list) -> None:
        dec = peer.decoder
        before = dec.errors + dec.resyncs
        msgs = dec.feed(apdu)
        if dec.errors + dec.resyncs != before:
            peer.stats["bad_framing"] += 1
        peer.stats["delivered"] += len(msgs)
        messages.extend(msgs)

    def _deliver(self, peer: PeerWindow, messages: list) -> None:
        buffer = peer.buffer
        while P.sqn_lte(peer.next, peer.lead):
            sqn = peer.next
            apdu = buffer.pop(sqn, None)
            if apdu is not None:
                self._feed(peer, apdu, messages)
            elif sqn in peer.lost:
                peer.lost.discard(sqn)
                self._lose(peer)
            else:
                break
            peer.next = (sqn + 1) & _M

    # -- timers ---------------------------------------------------------------------------------
    def next_timer(self) -> float | None:
        best = None
        for peer in self.peers.values():
            t = peer.last_seen + PEER_EXPIRY
            if peer.spmr_due is not None and peer.spmr_due < t:
                t = peer.spmr_due
            for m in peer.missing.values():
                if m.due < t:
                    t = m.due
            if best is None or t < best:
                best = t
        return best

    def poll(self, now: float):
        """Run due timers: NAKs, SPMRs, give-ups, expiry.  Returns ``(messages, packets)``."""
        messages: list[list[bytes]] = []
        out: list[tuple[str | None, bytes]] = []
        for tsi, peer in list(self.peers.items()):
            if now >= peer.last_seen + PEER_EXPIRY:
                del self.peers[tsi]
                continue
            if peer.spmr_due is not None and now >= peer.spmr_due:
                peer.spmr_due = None
                if peer.nla is None:
                    spmr = P.build_spmr(self.dport, tsi[1], tsi[0])
                    out.append((None, spmr))
                    if peer.src_addr:
                        out.append((peer.src_addr, spmr))
            if peer.missing:
                self._nak_timers(peer, now, messages, out)
        return messages, out

    def _nak_timers(self, peer: PeerWindow, now: float, messages: list, out: list) -> None:
        to_nak = []
        gave_up = False
        for sqn, m in list(peer.missing.items()):
            if m.due > now:
                continue
            if m.state == BACKOFF:
                if peer.nla is None:
                    m.due = now + NAK_RPT_IVL
                    if peer.spmr_due is None:
                        peer.spmr_due = now
                    continue
                to_nak.append(sqn)
                m.state = WAIT_NCF
                m.due = now + NAK_RPT_IVL
            elif m.state == WAIT_NCF:
                m.ncf_retries += 1
                if m.ncf_retries > NAK_NCF_RETRIES:
                    del peer.missing[sqn]
                    peer.lost.add(sqn)
                    gave_up = True
                else:
                    m.state = BACKOFF
                    m.due = now + self.rng() * NAK_BO_IVL
            else:
                m.data_retries += 1
                if m.data_retries > NAK_DATA_RETRIES:
                    del peer.missing[sqn]
                    peer.lost.add(sqn)
                    gave_up = True
                else:
                    m.state = BACKOFF
                    m.due = now + self.rng() * NAK_BO_IVL
        if to_nak and peer.nla is not None:
            to_nak.sort(key=lambda s: P.sqn_diff(s, peer.next))
            gsi, sport = peer.tsi
            step = P.MAX_NAK_LIST + 1
            for i in range(0, len(to_nak), step):
                chunk = to_nak[i : i + step]
                peer.stats["naks"] += 1
                nak = P.build_nak(P.NAK, self.dport, sport, gsi, chunk, peer.nla, self.group)
                out.append((peer.nla, nak))
        if gave_up:
            self._deliver(peer, messages)
