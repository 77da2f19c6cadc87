"""The blitzbench command line: one parser style, one command with subcommands."""
