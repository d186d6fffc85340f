"""Accounts: sign-up, sign-in, sessions, API tokens and password reset."""
