"""Secret-store backends for references in values (see base.py)."""
