"""Helpers shared by the test layers (not test modules: pytest collects nothing here)."""
