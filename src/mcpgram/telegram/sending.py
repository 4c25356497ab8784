"""(work in progress: issue 4)"""

from __future__ import annotations
