"""Stage 1: fetch feeds over HTTP, parse them, normalise entries into items, de-duplicate."""
