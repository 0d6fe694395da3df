"""Stage 2: decide whether an item is AI-governance news and tag it, keeping evidence."""
