"""End-to-end jobs behind the commands (train + figures, the main explore job, ...)."""
