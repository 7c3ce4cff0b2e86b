"""Membership: the roster as members see it and the workflows leaders and members run."""
