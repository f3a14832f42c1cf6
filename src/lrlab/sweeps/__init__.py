"""Sweeps: a schedule template, a grid or random search and seeds, run as trials into a folder."""
