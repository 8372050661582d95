"""Local durability: files on the gateway's own disk, written from threads.

`spool` keeps the swipes the database has not committed yet (fsync'd, group commit,
one dedicated thread); `directory` keeps the last-known card directory; `atomic`
replaces a file so that a crash leaves the old or the new one, whole. Nothing here
knows SQL; the recording policy above (gateway.recording) decides what goes where.
"""
