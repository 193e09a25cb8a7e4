"""Measures of motion quality."""
