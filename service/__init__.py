"""Kotae: drafts answers to security questionnaires from past answered sheets, for human review."""
