"""Who may do what: API-key scopes for the private listener (staff roles join later)."""
