"""Members: profiles, the directory, avatars and preferences."""
