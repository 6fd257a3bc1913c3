"""Persistence behind small protocols (``base.py``), one real implementation per backend."""
