"""The rules and transactions behind the routes: each route calls one function here."""
