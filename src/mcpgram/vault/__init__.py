"""Encrypted per-tenant storage: the AEAD envelope (``crypto``) and its storage backends."""
