"""Tables, engine and migrations: the only place that knows SQL."""
