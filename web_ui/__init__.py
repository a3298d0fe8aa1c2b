"""Flask app: the tablet page and JSON API."""
