"""What each service publishes for the others to read: its stored event contracts (payload
schemas, versions and upcasters) and the code lists its events carry. A service reads another
only through these (and the events themselves), never through its modules; `contracts` imports
nothing of `services`. See docs/architecture.md."""
