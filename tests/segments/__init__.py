"""Tests of the segments package."""
