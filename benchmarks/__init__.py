"""Scale benchmark of the refresh against the engine floor (see README.md)."""
