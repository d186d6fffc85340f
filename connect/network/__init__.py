"""The professional network: contacts, blocks, privacy, completeness and activity feeds."""
