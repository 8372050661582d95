"""Local durability: files on the gateway's own disk, written from threads.

The spool keeps the swipes the database has not committed yet, in three layers:
`record` the record format (pure, no I/O), `segments` the files and the one thread
that touches them, `spool` the async Spool on top (group commit, the bound, honest
errors), which is what gateway.recording uses. `directory` keeps the last-known card
directory; `atomic` replaces a file so that a crash leaves the old or the new one,
whole. Nothing here knows SQL; the recording policy above (gateway.recording)
decides what goes where.
"""
