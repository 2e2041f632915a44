"""Feeds: the card read model, the discover session, following, hot and related notes,
and the jobs that keep the ranking's signals fresh."""
