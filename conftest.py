"""The suite's fixtures come from one plugin, harness/plugin.py."""

pytest_plugins = ["harness.plugin"]
