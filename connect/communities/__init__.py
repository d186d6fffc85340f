"""Communities: their settings, memberships, join requests, invitations and roles."""
