"""pyzmq's ``zmq.ssh``: tunnel ZeroMQ tcp connections through ssh.

Over the system's OpenSSH client (``ssh`` on the PATH; no pexpect needed) or, with
``paramiko=True`` (the default on Windows), over paramiko when it is installed.
"""

from purezmq.ssh.tunnel import *  # noqa: F403
