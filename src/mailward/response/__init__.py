"""Incident response: lockdown, journal and hunting, claw-back."""
