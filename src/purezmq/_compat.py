"""What differs between the interpreters purezmq runs on (CPython 3.9+, PyPy 3.9+).

Only the standard library; every layer may import this module.
"""

from __future__ import annotations

import sys
from typing import Any

#: Keyword arguments for ``@dataclass(...)`` that give the class ``__slots__`` where the
#: interpreter supports it (``slots=`` is new in Python 3.10); on 3.9 the class keeps a
#: ``__dict__``, which changes its memory use, not its behaviour.
DATACLASS_SLOTS: dict[str, Any] = {"slots": True} if sys.version_info >= (3, 10) else {}
