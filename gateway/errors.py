"""Errors that reach a person, each with the exit code the CLI returns for it.

Every layer raises these (or subclasses) with a one-line message; the CLI prints the
message and exits with the code, and the daemon logs it as a structured event. Keeping
them at the bottom of the package lets every layer import them without import cycles.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes; documented in the README's CLI reference."""

    OK = 0
    FAILURE = 1  # unexpected internal error
    USAGE = 2  # bad command line (argparse uses 2 too)
    CONFIG = 3  # configuration file invalid or unreadable
    NOT_FOUND = 4  # a person, card or file that was named does not exist
    CONFLICT = 5  # the change contradicts what is stored (duplicate uid, card held by another)
    DB_UNAVAILABLE = 6  # database unreachable, wrong password, or schema missing
    BAD_INPUT = 7  # malformed data: card key, CSV row, time


class GatewayError(Exception):
    """An error with a one-line message meant for a person."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(GatewayError):
    exit_code = ExitCode.USAGE


class ConfigError(GatewayError):
    """A configuration problem, naming the file and the key."""

    exit_code = ExitCode.CONFIG

    def __init__(self, source: str, key: str | None, problem: str) -> None:
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.key = key
        self.problem = problem
        self.problems: list[ConfigError] = [self]

    @classmethod
    def many(cls, source: str, problems: list[ConfigError]) -> ConfigError:
        """One error for all the problems of a file, still a single line of text."""
        if len(problems) == 1:
            return problems[0]
        listed = "; ".join(f"{p.key}: {p.problem}" if p.key else p.problem for p in problems)
        error = cls(source, None, f"{len(problems)} problems: {listed}")
        error.problems = list(problems)
        return error


class NotFoundError(GatewayError):
    exit_code = ExitCode.NOT_FOUND


class ConflictError(GatewayError):
    exit_code = ExitCode.CONFLICT


class DatabaseUnavailableError(GatewayError):
    exit_code = ExitCode.DB_UNAVAILABLE


class SchemaMismatchError(DatabaseUnavailableError):
    """The database answers, but its schema is older or newer than this clock-gateway's:
    writing to it could fail, or succeed against the wrong rules. The daemon refuses to
    start on it rather than spool or write (the message names the command that mends it)."""


class InvalidInputError(GatewayError):
    exit_code = ExitCode.BAD_INPUT
