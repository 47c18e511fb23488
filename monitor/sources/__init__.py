"""Sources: what the config asks to poll, fetching, decoding, one parse adapter per format, URLs and
full text. Bytes in, entries out; no database."""
