"""The controller's own memory, as its cgroup reports it: what the OOM watcher reads."""
