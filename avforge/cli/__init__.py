"""Command-line interface: the only layer that wires the others together."""
