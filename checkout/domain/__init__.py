"""The checkout domain: plain Python, no web framework and no database imports."""
