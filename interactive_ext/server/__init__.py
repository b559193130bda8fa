"""The server child's side: the Jupyter Server extension, its REST API and the idle rule."""
