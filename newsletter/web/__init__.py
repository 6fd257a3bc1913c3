"""Public web pages: the archive site's index and feed, and the pages of the subscription endpoints."""
