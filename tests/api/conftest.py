"""API tests drive the app through Flask's test client, as a mobile client would."""
