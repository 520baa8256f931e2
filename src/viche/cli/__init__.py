"""Command-line interface: thin commands that parse, call the library and map errors."""
