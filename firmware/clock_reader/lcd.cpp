// HD44780 driver, see lcd.h. Timings from the HD44780U datasheet (fosc
// 270 kHz): 37 us per instruction or data write, 1.52 ms for clear/home;
// we wait 50 us and 2 ms to cover slower clones.
#include "lcd.h"

#include <Arduino.h>
#include <string.h>

#include "board.h"

namespace lcd {

static char shadow[ROWS][COLS];  // what the glass shows now
static uint8_t cursor = 0xFF;    // DDRAM address of the next write, 0xFF unknown

static void write4(uint8_t nibble) {
    // PD0/PD1 are the UART: touch only bits 4..7, with interrupts off so
    // the read-modify-write cannot race an ISR writing the same port.
    uint8_t sreg = SREG;
    cli();
    LCD_DATA_PORT = (uint8_t)((LCD_DATA_PORT & 0x0F) | (nibble << 4));
    SREG = sreg;
    // The controller latches on the falling edge of E; E high >= 450 ns.
    LCD_CTRL_PORT |= LCD_E_BIT;
    delayMicroseconds(1);
    LCD_CTRL_PORT &= (uint8_t)~LCD_E_BIT;
}

static void write8(uint8_t value, bool data) {
    if (data)
        LCD_CTRL_PORT |= LCD_RS_BIT;
    else
        LCD_CTRL_PORT &= (uint8_t)~LCD_RS_BIT;
    write4(value >> 4);
    write4(value & 0x0F);
    delayMicroseconds(50);
}

static void command(uint8_t c) { write8(c, false); }

void begin() {
    pinMode(PIN_LCD_RS, OUTPUT);
    pinMode(PIN_LCD_E, OUTPUT);
    for (uint8_t i = 0; i < 4; i++) pinMode(PIN_LCD_D4 + i, OUTPUT);
    digitalWrite(PIN_LCD_E, LOW);
    digitalWrite(PIN_LCD_RS, LOW);
    // Power-on: > 40 ms after Vcc reaches 2.7 V before the first command.
    delay(50);
    // "Initialising by instruction" (datasheet figure 24): three times
    // "8-bit mode" whatever state the controller is in (it may be half-way
    // through a 4-bit byte after a reset of the AVR alone), then 4-bit.
    write4(0x3);
    delayMicroseconds(4500);
    write4(0x3);
    delayMicroseconds(150);
    write4(0x3);
    delayMicroseconds(150);
    write4(0x2);
    delayMicroseconds(150);
    command(0x28);  // function set: 4-bit, 2 lines, 5x8 dots
    command(0x08);  // display off
    command(0x01);  // clear
    delayMicroseconds(2000);
    command(0x06);  // entry mode: increment, no shift
    command(0x0C);  // display on, cursor off, blink off
    memset(shadow, ' ', sizeof shadow);
    cursor = 0;
}

void show(const char *row0, const char *row1) {
    const char *rows[ROWS] = {row0, row1};
    for (uint8_t r = 0; r < ROWS; r++) {
        for (uint8_t c = 0; c < COLS; c++) {
            char ch = rows[r][c];
            if (shadow[r][c] == ch) continue;
            uint8_t addr = (uint8_t)(r * 0x40 + c);  // row 1 starts at DDRAM 0x40
            if (cursor != addr) command(0x80 | addr);
            write8((uint8_t)ch, true);
            shadow[r][c] = ch;
            cursor = addr + 1;
        }
    }
}

}  // namespace lcd
