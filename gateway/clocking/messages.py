"""What the reader's 16x2 LCD says: templates per locale, names made LCD-safe and fitted.

Templates use `{name}` (the person's name) and `{card}` (the card key). The `es` locale
reproduces the original system's texts word for word; texts longer than a line are
wrapped onto the second one (`Error en la entrada` becomes `Error en la` / `entrada`),
because the protocol refuses lines longer than 16 characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from anyascii import anyascii

from gateway.config import MESSAGE_KEYS, template_problem
from gateway.errors import ConfigError
from gateway.protocol import LCD_COLS, LCD_ROWS

LOCALES: dict[str, dict[str, str]] = {
    "en": {
        "idle_in": "Clock in\nTap your card",
        "idle_out": "Clock out\nTap your card",
        "in_ok": "In - {name}",
        "out_ok": "Out - {name}",
        "in_error": "Clock-in error\nTry again",
        "out_error": "Clock-out error\nTry again",
        "unknown_card": "Unknown card\n{card}",
        "duplicate": "Already recorded\n{name}",
        "offline_ok": "Saved offline\n{name}",
        "spool_full": "NOT recorded\nStorage is full",
        "role_refused": "Wrong reader\nCheck the cables",
        "disk_full": "NOT recorded\nDisk is full",
        "disk_error": "NOT recorded\nDisk error",
        "not_ready": "NOT recorded\nTry again",
    },
    "es": {
        "idle_in": "Entrada\nPase su tarjeta",
        "idle_out": "Salida\nPase su tarjeta",
        "in_ok": "Entrada - {name}",
        "out_ok": "Salida - {name}",
        "in_error": "Error en la entrada",
        "out_error": "Error en la salida",
        "unknown_card": "Tarjeta no\nregistrada",
        "duplicate": "Ya registrado\n{name}",
        "offline_ok": "Guardado offline\n{name}",
        "spool_full": "NO registrado\nAlmacen lleno",
        "role_refused": "Lector erroneo\nRevise cables",
        "disk_full": "NO registrado\nDisco lleno",
        "disk_error": "NO registrado\nError de disco",
        "not_ready": "NO registrado\nReintente",
    },
}
# The KO text for each reason the store could not take a swipe
# (StoreUnavailableError.reason): the spool at its bound, its disk full, its disk
# unusable, or the recorder not running (stopping, or a bug): "try again" is true then.
# These keys are not (yet) in gateway.config.MESSAGE_KEYS, so not overridable.
UNAVAILABLE_KEYS = {
    "spool_full": "spool_full",
    "disk_full": "disk_full",
    "read_only": "disk_error",
    "permission_denied": "disk_error",
    "io_error": "disk_error",
    "spool_gone": "disk_error",  # the spool files were deleted or replaced under us
}
assert all(set(t) == set(MESSAGE_KEYS) for t in LOCALES.values())
# A clock-out's second line when the day's total is shown (gateway/clocking/tally.py);
# the first line is the locale's (or the configuration's) out_ok.
DAY_TOTAL = {"en": "Today {total}", "es": "Hoy {total}"}


def unavailable_key(reason: str) -> str:
    """The message key for a StoreUnavailableError's reason."""
    return UNAVAILABLE_KEYS.get(reason, "not_ready")


# HD44780 ROM A00 shows a yen sign for backslash and an arrow for tilde.
_LCD_SWAPS = str.maketrans({"\\": "/", "~": "-"})
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")
_SPACES = re.compile(r" {2,}")


def lcd_ascii(text: str) -> str:
    """Text as the LCD can show it: transliterated to ASCII, one line, no control bytes."""
    ascii_text = anyascii(text).translate(_LCD_SWAPS)
    ascii_text = _UNPRINTABLE.sub(" ", ascii_text)
    return _SPACES.sub(" ", ascii_text).strip()


def _wrap(words: list[str], width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in words:
        while len(word) > width:  # a word longer than a line is cut where the line ends
            room = width - len(current) - (1 if current else 0)
            if room <= 0:
                lines.append(current)
                current = ""
                continue
            current = f"{current} {word[:room]}" if current else word[:room]
            word = word[room:]
            lines.append(current)
            current = ""
        if not word:
            continue
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= width:
            current = f"{current} {word}"
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def fit_lcd(text: str, cols: int = LCD_COLS, rows: int = LCD_ROWS) -> str:
    """Fit text to the display: explicit line breaks kept, long lines word-wrapped.

    Whatever does not fit on the last row is cut off there; a cut word is better than
    losing the first words of a name.
    """
    lines: list[str] = []
    for part in text.split("\n"):
        lines.extend(_wrap(lcd_ascii(part).split(" "), cols) or [""])
    if len(lines) > rows:
        tail = " ".join(line for line in lines[rows - 1 :] if line)
        lines = [*lines[: rows - 1], tail[:cols].rstrip()]
    while len(lines) > 1 and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


_RENDERED_KEPT = 8192  # texts kept per Messages: a few per enrolled card


class Messages:
    """The templates of one locale, with the configuration's overrides applied."""

    def __init__(self, locale: str = "en", overrides: Mapping[str, str] | None = None) -> None:
        if locale not in LOCALES:
            raise ConfigError("messages", "locale", f"unknown locale {locale!r}")
        self.locale = locale
        self._templates = {**LOCALES[locale], **(overrides or {})}
        for key, template in self._templates.items():
            # The same check as the configuration's, so `config check` is as strict as run.
            if problem := template_problem(template):
                raise ConfigError("messages", f"templates.{key}", problem)
        # The same person gets the same text every day: transliterating and fitting it
        # again on each swipe was a visible share of the daemon's CPU per swipe.
        self._rendered: dict[tuple[str, str, str], str] = {}

    def render(self, key: str, *, name: str = "", card: str = "") -> str:
        """The fitted LCD text for `key`; the name is made LCD-safe first."""
        cache_key = (key, name, card)
        text = self._rendered.get(cache_key)
        if text is None:
            if len(self._rendered) >= _RENDERED_KEPT:
                self._rendered.clear()  # crude but bounded; refilled by the next swipes
            text = self._rendered[cache_key] = self._render(key, name, card)
        return text

    def render_day_total(self, name: str, total: str) -> str:
        """A clock-out with the day's net time so far on line 2 (`Hoy 7:32`).

        Line 1 is out_ok's first line if it fits 16 characters (`Out - Ana`); else the
        name alone if it fits (the exit reader's idle screen already says which
        reader it is); else out_ok's first line cut at 16."""
        cache_key = ("day_total", name, total)
        text = self._rendered.get(cache_key)
        if text is None:
            if len(self._rendered) >= _RENDERED_KEPT:
                self._rendered.clear()
            safe_name = lcd_ascii(name)
            first = lcd_ascii(
                self._templates["out_ok"].split("\n", 1)[0].format(name=safe_name, card="")
            )
            if len(first) > LCD_COLS:
                first = safe_name if 0 < len(safe_name) <= LCD_COLS else first[:LCD_COLS].rstrip()
            second = lcd_ascii(DAY_TOTAL[self.locale].format(total=total))[:LCD_COLS]
            text = self._rendered[cache_key] = f"{first}\n{second}"
        return text

    def _render(self, key: str, name: str, card: str) -> str:
        template = self._templates[key]
        safe_name = lcd_ascii(name)
        text = template.format(name=safe_name, card=card)
        if (
            len(text) > LCD_COLS
            and "\n" not in template
            and "{name}" in template
            and len(safe_name) <= LCD_COLS
        ):
            # Keep a name that fits a row whole: "Salida -" / "Ana Nunez", not
            # "Salida - Ana" / "Nunez".
            before, after = template.split("{name}", 1)
            text = f"{before.rstrip()}\n{safe_name}{after}".format(card=card)
        return fit_lcd(text)
