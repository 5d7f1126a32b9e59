"""The sessions service's published contract: its code lists, measures and stored events."""
