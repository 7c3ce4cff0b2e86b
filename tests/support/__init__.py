"""Helpers the test folders share: fixtures, harnesses and the hostile-server kit."""
