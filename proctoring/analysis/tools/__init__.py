"""Build-time tools; nothing here is imported at run time."""
