"""Persistence: what survives a power cut (journal, checkpoints, validated files)."""
