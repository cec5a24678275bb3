"""The base of Tomo's models: validators and serializers are built when a model is first used.

A process answers its first tools/list from saved schemas without touching most models; building all of them at
import held about 2.4 MB more of every idle `tomo serve` (measured with bench/bench_startup.py's VmRSS).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class TomoModel(BaseModel):
    """A pydantic model built on first use (``defer_build``); subclasses add their own config as usual."""

    model_config = ConfigDict(defer_build=True)
