"""Workbench screens."""
