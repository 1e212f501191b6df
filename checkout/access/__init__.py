"""Who may do what: API-key scopes for the private listener, staff roles and permissions,
and the staff TOTP second factor."""
