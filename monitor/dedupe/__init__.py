"""Dedupe: fingerprints of articles, and the decision whether one is a copy of a stored article,
written against a small look-up protocol so it runs on plain data."""
