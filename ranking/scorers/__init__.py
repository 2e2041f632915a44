"""Scorers, one per module: each gives every candidate its score and components."""

from ranking.scorers.blend import BlendScorer

__all__ = ["BlendScorer"]
