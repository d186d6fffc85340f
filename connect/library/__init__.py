"""Shared document libraries: folders, entries, files, versions and their text."""
