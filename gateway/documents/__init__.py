"""Documents written out from plain tables: the register export's xlsx and PDF.

Below both faces (the CLI and the web call the same writers), above nothing but the
foundation: tables in, files out, no database.
"""
