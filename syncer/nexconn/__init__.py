"""Nexconn Chat (formerly RongCloud) group channels (nexconn-facts.md)."""
