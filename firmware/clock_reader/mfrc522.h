// Minimal NXP MFRC522 driver over SPI: enough ISO/IEC 14443-3 type A to
// read a card's UID (WUPA, anticollision and SELECT over cascade levels 1-3,
// so 4-, 7- and 10-byte UIDs, then HLTA). Written from the MFRC522 data
// sheet and ISO/IEC 14443-3; no third-party library.
#ifndef CLOCK_READER_MFRC522_H
#define CLOCK_READER_MFRC522_H

#include <stdint.h>

namespace mfrc522 {

// Resets and configures the chip; returns its VersionReg (0x91 or 0x92 for
// genuine v1/v2 chips, other values for clones), 0x00/0xFF if nothing
// answers on the bus.
uint8_t begin();

// Looks for one card in the field. Returns the UID length (4, 7 or 10) and
// fills uid, or 0 if there is no card or the exchange failed. A card read
// is left selected (ACTIVE): call halt() after every successful read, so
// that WUPA (not REQA) wakes it again on the next call and a card that
// stays on the reader is seen on every poll (one tap = one SWIPE is decided
// above this, by reader::TapFilter). Split so the caller can queue the
// SWIPE before the halt's 1 ms no-answer wait.
uint8_t read_uid(uint8_t uid[10]);

// HLTA to the selected card (about 1.1 ms: the card never answers).
void halt();

}  // namespace mfrc522

#endif
