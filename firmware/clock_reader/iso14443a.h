// ISO/IEC 14443-3 type A helpers that need no hardware (host-testable).
#ifndef CLOCK_READER_ISO14443A_H
#define CLOCK_READER_ISO14443A_H

#include <stddef.h>
#include <stdint.h>

namespace iso14443a {

// CRC_A (ISO/IEC 14443-3 annex B): CRC-16 polynomial x^16+x^12+x^5+1,
// reflected (0x8408), initial value 0x6363, no final XOR; sent LSB first.
uint16_t crc_a(const uint8_t *p, size_t n);

const uint8_t CMD_REQA = 0x26, CMD_WUPA = 0x52, CMD_HLTA = 0x50;
const uint8_t SEL_CL1 = 0x93, SEL_CL2 = 0x95, SEL_CL3 = 0x97;
const uint8_t CASCADE_TAG = 0x88;
const uint8_t SAK_CASCADE = 0x04;  // SAK bit 3: UID not complete

}  // namespace iso14443a

#endif
