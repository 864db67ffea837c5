"""Processes and their wiring: settings, Temporal client, worker, CLI and the embedded dev stack."""
