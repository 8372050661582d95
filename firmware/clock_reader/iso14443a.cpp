#include "iso14443a.h"

namespace iso14443a {

uint16_t crc_a(const uint8_t *p, size_t n) {
    uint16_t crc = 0x6363;
    while (n--) {
        crc ^= *p++;
        for (uint8_t i = 0; i < 8; i++) crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0x8408) : (uint16_t)(crc >> 1);
    }
    return crc;
}

}  // namespace iso14443a
