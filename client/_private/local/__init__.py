"""What a member keeps on this device: the home, the local store and its sealing."""
