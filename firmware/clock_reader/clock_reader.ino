// clock_reader: NFC clock-in/out reader for clock-gateway.
//
// ATmega328P (Uno/Nano) + MFRC522 + HD44780 16x2 + LEDs + buzzer, speaking
// protocol v1 (docs/PROTOCOL.md) over the USB serial port at 115200 8N1.
// Wiring and usage: firmware/README.md. The protocol and the reader's
// behaviour live in portable files (proto.*, reader.*) tested on the host;
// this file only glues the hardware drivers to them.
#include <avr/sleep.h>

#include "board.h"
#include "lcd.h"
#include "mfrc522.h"
#include "reader.h"
#include "storage.h"

static reader::Reader rd;
static reader::TapFilter taps;
static uint32_t last_poll;

// Card polling period: a tap shows on screen within ~50 ms, and the
// 500 ms absence rule needs a card to be seen several times per 500 ms.
const uint16_t POLL_MS = 50;

void setup() {
    pinMode(PIN_LED_GREEN, OUTPUT);
    pinMode(PIN_LED_RED, OUTPUT);
    pinMode(PIN_BUZZER, OUTPUT);
    pinMode(PIN_ROLE, INPUT_PULLUP);
    // Both LEDs on during start-up: a quick lamp test.
    digitalWrite(PIN_LED_GREEN, HIGH);
    digitalWrite(PIN_LED_RED, HIGH);
    Serial.begin(115200);
    lcd::begin();
    storage::begin();
    mfrc522::begin();
    rd.begin(millis());
}

void loop() {
    uint32_t now = millis();
    while (Serial.available() > 0) rd.on_byte((uint8_t)Serial.read(), now);
    if (now - last_poll >= POLL_MS) {
        last_poll = now;
        uint8_t uid[10];
        uint8_t n = mfrc522::read_uid(uid);
        now = millis();
        if (n && taps.seen(uid, n, now)) rd.on_tap(uid, n, now);
    }
    rd.tick(now);
    // Idle until the next interrupt (the 1 ms timer tick or a serial byte):
    // nothing here is late by more than 1 ms, and it saves power (and host
    // CPU in the simulator, which skips ahead while the core sleeps).
    set_sleep_mode(SLEEP_MODE_IDLE);
    sleep_mode();
}
