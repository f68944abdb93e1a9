"""Assertions over rendered manifests that chart authors ask for again and again."""
