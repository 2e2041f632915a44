"""Accounts: registration, sign-in and tokens, profiles, roles, onboarding interests."""
