"""PGM (RFC 3208) without I/O: packets, ZMQ's framing over PGM, a source and a receiver.

Nothing here opens a socket, starts a thread or reads a clock: callers pass ``now`` (seconds,
monotonic) and get back bytes to send and messages to deliver.  The I/O lives in
:mod:`purezmq.transports.pgm`.

* :mod:`.packet`: parse and build PGM packets (SPM, ODATA, RDATA, NAK, NCF, SPMR, ...).
  Anything malformed raises :class:`~purezmq.pgm.packet.PgmError` and nothing else.
* :mod:`.framing`: libzmq's PGM framing: each APDU starts with the offset of the first message
  that begins in it, then the messages as ZMTP/1.0 frames.
* :mod:`.source`: the sending side: sequence numbers, transmit window sized by
  ``RATE * RECOVERY_IVL``, SPMs, NAK -> NCF + RDATA repair, rate limit.
* :mod:`.receiver`: the receiving side: per-source receive windows, loss detection, NAK
  back-off and retries, in-order delivery, rejoining the stream after unrecoverable loss.
"""
