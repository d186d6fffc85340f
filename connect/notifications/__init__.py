"""Notifications: in-app notices and outgoing email."""
