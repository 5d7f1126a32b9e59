"""The safeguarding service's published contract: its code lists and stored events."""
