"""Chatham."""
