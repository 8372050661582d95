"""Bringing data over from the original NestJS clock-in system."""
