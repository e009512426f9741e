"""The command line: parses flags and prints results; the core does the work."""
