"""Watches: the query language and the matcher that decides, for every item, which watches it
matches and where."""
