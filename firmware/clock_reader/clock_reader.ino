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

// Card polling period. A poll with no card costs about 1.1 ms (the chip's
// 1 ms no-answer timer after WUPA, mfrc522.cpp), so polling every 2 ms puts
// a tap on the wire about 1 ms (at most ~3 ms) after the card arrives,
// instead of 25 ms on average with the old 50 ms, while the core still
// sleeps about half the time. TapFilter's 500 ms absence rule is in
// milliseconds, not in polls, so it is unchanged by the rate.
const uint16_t POLL_MS = 2;

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
    bool was_pending = rd.pending();
    while (Serial.available() > 0) rd.on_byte((uint8_t)Serial.read(), now);
    if (was_pending && !rd.pending()) {
        // The RESULT has just settled the tap: show it now. Polling first
        // would put a whole card read and HLTA (about 4 ms: the card is
        // usually still in the field) between the RESULT's last byte and
        // the screen. The card counts as still there; the next poll is
        // at most a loop later.
        taps.hold(now);
        rd.tick(now);
    } else if (rd.pending()) {
        // A SWIPE is waiting for its RESULT: the reader ignores taps now,
        // so do not poll (a read would delay the RESULT's screen by a card
        // read). The card counts as still there meanwhile, so one held
        // through a long wait (up to ~6 s offline) stays one tap.
        taps.hold(now);
    } else if (now - last_poll >= POLL_MS) {
        last_poll = now;
        uint8_t uid[10];
        uint8_t n = mfrc522::read_uid(uid);
        now = millis();
        if (n && taps.seen(uid, n, now)) rd.on_tap(uid, n, now);
        // HLTA after the SWIPE is queued: the frame is on the wire while
        // the halt's 1 ms no-answer time runs.
        if (n) mfrc522::halt();
    }
    rd.tick(now);
    // Idle until the next interrupt (the 1 ms timer tick or a serial byte):
    // nothing here is late by more than 1 ms, and it saves power (and host
    // CPU in the simulator, which skips ahead while the core sleeps).
    set_sleep_mode(SLEEP_MODE_IDLE);
    sleep_mode();
}
