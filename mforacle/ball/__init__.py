"""Ball arithmetic (Arb, python-flint): certified enclosures."""
