"""Small helpers laid out as pyzmq lays them out (``zmq.utils.z85``, ...)."""
