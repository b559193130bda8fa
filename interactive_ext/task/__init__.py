"""The task process's side: the decorator, the run, loading and re-loading the task's code."""
