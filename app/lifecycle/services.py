"""Use cases of the lifecycle domain."""

from __future__ import annotations
