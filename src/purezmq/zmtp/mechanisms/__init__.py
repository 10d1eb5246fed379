"""Security mechanisms (NULL, PLAIN, CURVE), each a sans-I/O handshake object."""

from purezmq.zmtp.mechanisms.base import Mechanism
from purezmq.zmtp.mechanisms.null import NullMechanism

__all__ = ["Mechanism", "NullMechanism"]
