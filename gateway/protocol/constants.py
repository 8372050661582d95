"""Numbers fixed by docs/PROTOCOL.md, in one place for the codec, the reader and the daemon."""

from __future__ import annotations

VERSION = 1

# Section 2.1: body = version(1) type(1) seq(2) payload(0..58) crc(2).
HEADER_LEN = 4
CRC_LEN = 2
MIN_BODY = HEADER_LEN + CRC_LEN
MAX_BODY = 64
MAX_PAYLOAD = MAX_BODY - MIN_BODY
# A 64-byte body never needs more than one COBS code byte: 65 bytes before the delimiter.
MAX_ENCODED = MAX_BODY + 1
MAX_SEQ = 0xFFFF

# Section 4.1: a 16x2 HD44780 LCD.
LCD_COLS = 16
LCD_ROWS = 2
MAX_TEXT = LCD_COLS * LCD_ROWS + LCD_ROWS - 1  # two lines and the LF between them: 33

HARDWARE_ID_LEN = 8
UID_LENGTHS = (4, 7, 10)

# Section 7: timing.
DEFAULT_HEARTBEAT_MS = 1000
MIN_HEARTBEAT_MS = 100
MAX_HEARTBEAT_MS = 60000
HELLO_RETRY_S = 1.0
HELLO_REFUSED_RETRY_S = 5.0
GONE_AFTER_INTERVALS = 3.5
# A heartbeat MAY be this much of an interval late (PROTOCOL.md 5.3): the gateway rounds
# its timers up to a grid of interval/8 shared by all readers (1.125 typically).
HEARTBEAT_LATE_MAX = 0.25
SWIPE_RETRY_S = 1.0
SWIPE_RETRIES = 5  # retransmissions after the first send: 6 sends in all
CARD_ABSENT_S = 0.5
GATEWAY_ANSWER_S = 3.0
NAK_MIN_INTERVAL_S = 0.25
RESULT_SHOW_S = 3.0
