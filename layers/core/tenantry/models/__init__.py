"""Pydantic models of the HTTP API: what routes accept (…Create, …Patch) and return."""
