"""Tables of the creators domain."""

from __future__ import annotations
