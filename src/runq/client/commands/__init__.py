"""One module per subcommand; each exposes `configure(parser)` and `run(args) -> int`."""
