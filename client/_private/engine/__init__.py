"""The group engine: the server API, the sync engine and the checks it maps."""
