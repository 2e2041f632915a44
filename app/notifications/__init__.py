"""Notifications: delivery (a job), listing and marking read."""
