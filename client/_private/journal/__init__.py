"""The group's journal: content types, the fold into items, the service, and its renderings."""
