"""purezmq's own version: the one source for the package metadata and ``purezmq version``.

``zmq.__version__`` / ``pyzmq_version()`` report the pyzmq API level purezmq implements
(see :mod:`purezmq.sugar.version`); this is the version of purezmq itself.
"""

__version__ = "0.2.0"
