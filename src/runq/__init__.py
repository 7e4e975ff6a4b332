"""runq: a local task queue and telemetry layer for shell commands."""

__version__ = "0.1.0"
