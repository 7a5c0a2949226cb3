"""The child index asset (contract section 3)."""
