// What the reader keeps in EEPROM: its hardware id and a boot counter.
#ifndef CLOCK_READER_STORAGE_H
#define CLOCK_READER_STORAGE_H

#include <stdint.h>

namespace storage {

// Layout (EEPROM addresses). The magic is written last, so a first boot
// cut short by a power loss simply generates the id again next time.
const uint16_t EE_MAGIC = 0;     // 4 bytes "CGR1"
const uint16_t EE_HWID = 4;      // 8 bytes
const uint16_t EE_COUNTER = 12;  // 4 bytes, big-endian

// Loads the hardware id, generating and storing it on the very first boot.
void begin();
const uint8_t *hardware_id();
// Increments the boot counter and returns it: a session id never used
// before with this hardware id (PROTOCOL.md section 3).
uint32_t next_session();

}  // namespace storage

#endif
