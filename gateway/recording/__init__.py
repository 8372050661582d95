"""The recording policy: where an acknowledged swipe becomes durable.

`recorder` (the daemon's EventSink: the database first, the spool when it fails or
does not answer in time, KO when neither can take the swipe), `route` (that choice,
one pure function called once per swipe), `drainer` (replays the spool into the
database), `refresher` (keeps the card directory fresh), `group_writer` (many
readers' swipes in few transactions), and `storage` (the one small protocol through
which all of them reach the database).
"""
