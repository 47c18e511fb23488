"""The web view: look back, search and give feedback (``monitor web``, ``monitor run --http``)."""
