"""The session directory, read and written by every process: records, pickles, sources."""
