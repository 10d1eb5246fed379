"""Logging over ZeroMQ (pyzmq's ``zmq.log``): see :mod:`purezmq.log.handlers`."""
