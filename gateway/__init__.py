"""clock-gateway: NFC card readers on USB serial, clock events in PostgreSQL."""

__version__ = "0.1.0"
