"""Transports: stream sockets (tcp, ipc) through engines, and inproc as a pipe pair."""
