"""The server child, spawned and contained by the task process; its entry point (main.py)."""
