"""syncer: keeps chat-group profiles at a chat vendor in line with the desired state in Postgres."""

__version__ = "0.2.0.dev0"
