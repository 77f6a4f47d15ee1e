"""Tests for the analytics package."""
