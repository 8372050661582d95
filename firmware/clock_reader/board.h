// Pin map of the reference wiring (firmware/README.md has the table).
// Arduino pin numbers, Uno and Nano alike. The simulator (firmware/sim/)
// wires its parts to the same pins, so keep the two in step.
#ifndef CLOCK_READER_BOARD_H
#define CLOCK_READER_BOARD_H

#include <Arduino.h>

const uint8_t PIN_LED_GREEN = 2;
const uint8_t PIN_LED_RED = 3;
// HD44780 in 4-bit mode, R/W tied to GND (write-only: we wait out the
// datasheet delays instead of reading the busy flag, one wire less).
const uint8_t PIN_LCD_D4 = 4;  // D4..D7 on Arduino 4..7 (PD4..PD7)
const uint8_t PIN_LCD_RS = 8;
const uint8_t PIN_LCD_E = 9;
// MFRC522 on the hardware SPI: SDA/SS on 10, MOSI 11, MISO 12, SCK 13.
const uint8_t PIN_RC522_SS = 10;
const uint8_t PIN_RC522_RST = A0;
// Active buzzer (it has its own oscillator: high = sound).
const uint8_t PIN_BUZZER = A1;
// Role jumper: open (internal pull-up) = entrance/in, to GND = exit/out.
const uint8_t PIN_ROLE = A2;
// The LCD and the card reader's chip select are driven through the port
// registers directly: digitalWrite() costs ~4 us per call and, on PWM-capable
// pins (5, 6, 9, 10), rewrites the timer control registers every time.
// These must match the Arduino pin numbers above (ATmega328P: D4..D7 =
// PD4..PD7, D8 = PB0, D9 = PB1, D10 = PB2).
#define LCD_DATA_PORT PORTD  // D4..D7 on bits 4..7
#define LCD_CTRL_PORT PORTB
const uint8_t LCD_RS_BIT = _BV(0), LCD_E_BIT = _BV(1);
#define RC522_SS_PORT PORTB
const uint8_t RC522_SS_BIT = _BV(2);

// Left unconnected: its ADC noise is one entropy source for the hardware id.
const uint8_t PIN_NOISE = A3;

#endif
