"""Tencent Cloud Chat REST API: commands, error codes and the HTTP client."""
