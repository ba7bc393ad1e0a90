"""Verification outside the student's process: plans, exports, probes, the trusted worker, calibration."""
