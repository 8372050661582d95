"""The SQL side: a Database (engine, transactions, schema) and one store per aggregate.

swipes (the swipe path), people (people, cards, the unknown-card list), timetable,
events (reading events for reports and export); `stores.Stores` opens them all from
one URL. Local files (spool, card directory) are gateway.durable's.
"""
