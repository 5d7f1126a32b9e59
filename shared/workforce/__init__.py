"""The node's workforce: who may be named as a worker, and the first act of a member of staff."""
