"""The tests import their shared file builders from ``whisper_files`` (this folder): pytest runs with
``--import-mode=importlib``, which does not put a test folder on ``sys.path`` by itself."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
