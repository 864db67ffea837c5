"""Temporal activities: everything a journey does that touches the world."""
