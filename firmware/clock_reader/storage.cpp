// EEPROM storage and hardware-id generation, see storage.h.
#include "storage.h"

#include <Arduino.h>
#include <avr/eeprom.h>
#include <avr/interrupt.h>
#include <avr/wdt.h>

#include "board.h"

namespace storage {

static uint8_t hwid[8];
static const uint8_t MAGIC[4] = {'C', 'G', 'R', '1'};

static volatile bool wdt_fired;
}  // namespace storage

ISR(WDT_vect) { storage::wdt_fired = true; }

namespace storage {

// Jenkins' one-at-a-time hash step: cheap on an 8-bit core and mixes every
// input bit into the whole 32-bit state.
static void mix(uint32_t &h, uint8_t b) {
    h += b;
    h += h << 10;
    h ^= h >> 6;
}
static void finish(uint32_t &h) {
    h += h << 3;
    h ^= h >> 11;
    h += h << 15;
}

// The ATmega328P has no serial number and no RNG. Entropy comes from the
// jitter between the watchdog's own 128 kHz RC oscillator and the crystal
// (Timer1 and Timer0 sampled at each watchdog interrupt), plus the ADC
// noise of an unconnected pin. 64 samples take about 1 s, once per board.
static void generate(uint8_t out[8]) {
    uint32_t a = 0x9E3779B9UL, b = 0x7F4A7C15UL;
    for (uint8_t i = 0; i < 64; i++) {
        cli();
        wdt_reset();
        MCUSR &= (uint8_t)~_BV(WDRF);
        WDTCSR = _BV(WDCE) | _BV(WDE);
        WDTCSR = _BV(WDIE);  // interrupt mode only (no reset), ~16 ms
        wdt_fired = false;
        sei();
        uint32_t t0 = millis();
        while (!wdt_fired && millis() - t0 < 40) {
        }
        uint8_t t1 = TCNT1L, t0c = TCNT0;
        uint16_t adc = (uint16_t)analogRead(PIN_NOISE);
        mix(a, t1);
        mix(a, (uint8_t)adc);
        mix(b, t0c);
        mix(b, (uint8_t)(adc >> 8) ^ (uint8_t)micros());
        mix(a, (uint8_t)b);
    }
    cli();
    WDTCSR = _BV(WDCE) | _BV(WDE);
    WDTCSR = 0;  // watchdog off again
    sei();
    finish(a);
    finish(b);
    for (uint8_t i = 0; i < 4; i++) {
        out[i] = (uint8_t)(a >> (8 * i));
        out[4 + i] = (uint8_t)(b >> (8 * i));
    }
}

void begin() {
    uint8_t magic[4];
    eeprom_read_block(magic, (const void *)EE_MAGIC, 4);
    if (memcmp(magic, MAGIC, 4) == 0) {
        eeprom_read_block(hwid, (const void *)EE_HWID, 8);
        return;
    }
    generate(hwid);
    eeprom_update_block(hwid, (void *)EE_HWID, 8);
    for (uint8_t i = 0; i < 4; i++) eeprom_update_byte((uint8_t *)(EE_COUNTER + i), 0);
    eeprom_update_block(MAGIC, (void *)EE_MAGIC, 4);
}

const uint8_t *hardware_id() { return hwid; }

uint32_t next_session() {
    uint32_t c = 0;
    for (uint8_t i = 0; i < 4; i++) c = c << 8 | eeprom_read_byte((const uint8_t *)(EE_COUNTER + i));
    c++;
    if (c == 0) c = 1;  // 2^32 boots: beyond any EEPROM's endurance anyway
    // Most significant byte first: if power fails half-way, the stored value
    // is the old one or above it, never below, so no session id comes back.
    // (We use the new value only once all of it is written.)
    for (uint8_t i = 0; i < 4; i++)
        eeprom_update_byte((uint8_t *)(EE_COUNTER + i), (uint8_t)(c >> (8 * (3 - i))));
    return c;
}

}  // namespace storage
