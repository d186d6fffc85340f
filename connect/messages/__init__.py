"""Private messages: conversations between two or more members."""
