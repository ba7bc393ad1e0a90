"""Running one notebook in bubblewrap: limits, fork server, disk quota, CPU time, the data view."""
