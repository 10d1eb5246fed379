"""Installs ``purezmq-as-zmq.pth`` into site-packages beside the package.

Everything else is declared in pyproject.toml.  The .pth file turns on ``import zmq`` ->
purezmq in a process whose environment sets ``PUREZMQ_AS_ZMQ`` (see src/_purezmq_alias.py);
setuptools has no declarative way to put a file at the top of site-packages, so ``build_py``
copies it there, for wheels and editable installs alike.
"""

import os

from setuptools import setup
from setuptools.command.build_py import build_py

PTH = "purezmq-as-zmq.pth"


class BuildPyWithPth(build_py):
    def run(self) -> None:
        super().run()
        target = self.build_lib
        if getattr(self, "editable_mode", False):
            # An editable wheel takes its modules from the source tree and ignores build_lib;
            # what it installs as files comes from the install command's directory.
            target = self.get_finalized_command("install").install_lib
        self.copy_file(os.path.join("src", PTH), os.path.join(target, PTH), preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list:
        return [*super().get_outputs(include_bytecode), os.path.join(self.build_lib, PTH)]


setup(cmdclass={"build_py": BuildPyWithPth})
