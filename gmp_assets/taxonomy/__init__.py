"""Canonical CSI trade taxonomy and the mapping of raw division names onto it."""
