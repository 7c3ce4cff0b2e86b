"""The database layer: every statement the server runs is written below here."""
