"""Shared neural-network building blocks (skeleton graphs, graph pyramids, layers)."""
