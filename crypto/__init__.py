"""chatham.crypto: the Chatham protocol, version 1. No I/O."""
