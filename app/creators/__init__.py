"""Creators: KOL/KOC candidates for editors, and verification ("认证加V")."""
