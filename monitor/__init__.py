"""News monitor for Chinese financial news: feeds → watchlist matches → dedupe → digests."""

__version__ = "0.1.0"
