"""Layer types: each one's forward formula and derivative side by side, in one registry per kind."""
