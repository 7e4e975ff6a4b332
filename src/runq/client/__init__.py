"""The runq client: command-line parsing, the daemon connection, rendering."""
