"""Full-text search: the Whoosh index, its indexer (an event consumer), queries and pages."""
