"""Routing with no I/O: strategies, and each socket type as a composition of them."""
