// Minimal HD44780 16x2 driver, 4-bit parallel, write-only (R/W on GND).
// Written from the Hitachi HD44780U datasheet; no third-party library.
#ifndef CLOCK_READER_LCD_H
#define CLOCK_READER_LCD_H

#include <stdint.h>

namespace lcd {

const uint8_t COLS = 16, ROWS = 2;

void begin();
// Shows two rows of exactly COLS characters; only cells that differ from
// what is on the glass are written, so a redraw costs ~50 us per change
// and the main loop never stalls long enough to lose serial bytes.
void show(const char *row0, const char *row1);

}  // namespace lcd

#endif
