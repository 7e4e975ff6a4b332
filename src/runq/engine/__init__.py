"""The daemon: state, scheduling, process supervision and the request server."""
