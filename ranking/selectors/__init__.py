"""Selectors, one per module: each turns scored candidates into the page."""

from ranking.selectors.diversity import diversify
from ranking.selectors.page import PageSelector

__all__ = ["PageSelector", "diversify"]
