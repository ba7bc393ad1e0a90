"""The grading path: read, rebuild, run, verify, score (pipeline.py), for one submission and for a batch."""
