"""The wire format shared by the daemon and its clients: the only socket code on either side."""
