"""Browser tests: JupyterLab and Notebook 7 in Debian's chromium, against real servers."""
