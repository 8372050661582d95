// The board side of the hal:: interface of reader.h.
#include <Arduino.h>
#include <string.h>

#include "board.h"
#include "lcd.h"
#include "reader.h"
#include "storage.h"

void hal::send(const uint8_t *p, uint8_t n) { Serial.write(p, n); }

void hal::show(const char *row0, const char *row1) { lcd::show(row0, row1); }

// Called on every loop: write the pins only when they change (pin 3 is a
// PWM pin, and digitalWrite() on it rewrites Timer2's control register).
static int8_t led_state = -1, buzzer_state = -1;

void hal::leds(bool green, bool red) {
    int8_t s = (int8_t)((green ? 1 : 0) | (red ? 2 : 0));
    if (s == led_state) return;
    led_state = s;
    digitalWrite(PIN_LED_GREEN, green ? HIGH : LOW);
    digitalWrite(PIN_LED_RED, red ? HIGH : LOW);
}

void hal::buzzer(bool on) {
    if ((int8_t)on == buzzer_state) return;
    buzzer_state = (int8_t)on;
    digitalWrite(PIN_BUZZER, on ? HIGH : LOW);
}

uint8_t hal::role() { return digitalRead(PIN_ROLE) == LOW ? proto::ROLE_OUT : proto::ROLE_IN; }

uint32_t hal::next_session() { return storage::next_session(); }

void hal::hardware_id(uint8_t out[8]) { memcpy(out, storage::hardware_id(), 8); }
