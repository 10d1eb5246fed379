"""pyzmq's public classes (``Socket``, ``Frame``, ``Poller``) over the socket core."""
