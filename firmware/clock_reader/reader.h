// The reader's protocol behaviour (docs/PROTOCOL.md section 6): link state,
// HELLO/heartbeat/liveness, SWIPE stop-and-wait with retransmission, NAK
// handling, what the screen and the LEDs/buzzer show.
//
// Portable C++ like proto.h: the hardware is reached only through the hal::
// functions below, which the sketch implements for the board and the host
// tests implement with fakes, so this logic is tested with a fake clock on
// the host as well as in the simulator.
#ifndef CLOCK_READER_READER_H
#define CLOCK_READER_READER_H

#include <stdint.h>

#include "proto.h"

namespace hal {
// Writes one whole frame to the serial line.
void send(const uint8_t *p, uint8_t n);
// Shows two 16-character rows (exactly 16 chars each, space padded).
void show(const char *row0, const char *row1);
void leds(bool green, bool red);
void buzzer(bool on);
// The role jumper: proto::ROLE_IN or proto::ROLE_OUT.
uint8_t role();
// A session id never used before with this hardware id (section 3): the
// board increments a boot counter kept in EEPROM.
uint32_t next_session();
void hardware_id(uint8_t out[8]);
}  // namespace hal

namespace reader {

const uint8_t FW_MAJOR = 1, FW_MINOR = 0, FW_PATCH = 0;

// Section 7 timings, in ms.
const uint16_t HELLO_PERIOD = 1000;
const uint16_t HELLO_PERIOD_REFUSED = 5000;
const uint16_t DEFAULT_HEARTBEAT = 1000;
const uint16_t RETRY_TIMEOUT = 1000;
const uint8_t MAX_SENDS = 6;  // the first send plus 5 retransmissions
const uint16_t GIVE_UP = 6000;  // a tap is settled within ~6 s, online or not
const uint16_t CARD_ABSENCE = 500;
const uint16_t RESULT_SHOW = 3000;
const uint16_t NAK_MIN_GAP = 250;

// One tap = one SWIPE: a card that stays in the field (seen again within
// CARD_ABSENCE of its last sighting) is not a new tap; a different UID is.
class TapFilter {
public:
    TapFilter() : have_(false), len_(0), last_seen_(0) {}
    // Call on every successful read of a card; true when it is a new tap.
    bool seen(const uint8_t *uid, uint8_t len, uint32_t now);
    // While nobody looks (a SWIPE pending): the last card counts as seen
    // now, so a card held through the wait is not a new tap after it.
    void hold(uint32_t now) {
        if (have_) last_seen_ = now;
    }

private:
    bool have_;
    uint8_t len_;
    uint8_t uid_[proto::MAX_UID];
    uint32_t last_seen_;
};

class Reader {
public:
    enum Link : uint8_t { DOWN, REFUSED, UP };
    enum Signal : uint8_t { SIG_NONE, SIG_OK, SIG_KO };

    void begin(uint32_t now);
    void on_byte(uint8_t b, uint32_t now);
    // A new tap (already filtered by TapFilter).
    void on_tap(const uint8_t *uid, uint8_t len, uint32_t now);
    // Timers, LEDs, buzzer and screen; call often (every loop).
    void tick(uint32_t now);

    // Read-only views for tests and diagnostics.
    Link link() const { return link_; }
    bool pending() const { return pending_; }
    uint32_t session() const { return session_; }

private:
    void send_msg(proto::Message &m, uint32_t now);
    void send_hello(uint32_t now);
    void send_swipe(uint32_t now);
    void try_swipe(uint32_t now);
    void send_nak(uint8_t reason, uint8_t detail, uint16_t seq, uint32_t now);
    void on_frame(const proto::Message &m, uint32_t now);
    void on_bad_frame(proto::Reason why, bool crc_ok, const proto::Message &m, uint32_t now);
    void new_session(uint32_t now);
    void message(const char *text, uint8_t len, bool in_flash, Signal sig, uint32_t now);
    void compose(uint32_t now);
    void signals(uint32_t now);
    uint16_t gone_after() const;

    proto::Decoder dec_;
    proto::Message msg_;  // scratch for decoding and encoding
    uint8_t tx_[proto::MAX_FRAME];

    Link link_;
    bool ever_up_;
    uint32_t session_;
    uint16_t next_seq_;
    uint16_t heartbeat_ms_;
    uint32_t last_rx_, last_tx_, last_hello_, last_nak_;
    bool nak_sent_;

    // The outstanding SWIPE; re-encoded on each send, which gives the same
    // bytes (same seq) and saves keeping the frame.
    bool pending_;
    uint16_t p_seq_;
    uint8_t p_len_;
    uint8_t p_uid_[proto::MAX_UID];
    uint8_t sends_;
    uint32_t p_tap_;       // slots are timed from the tap (section 6.3)
    uint32_t p_next_try_;

    // Text for the idle screen (HELLO_ACK) or the refusal reason.
    char idle_[proto::MAX_TEXT];
    uint8_t idle_len_;
    // A timed message: RESULT text or a local one (flash on AVR).
    char msg_text_[proto::MAX_TEXT];
    uint8_t msg_len_;
    bool msg_flash_;
    const char *msg_flash_ptr_;
    uint32_t msg_start_;
    bool msg_on_;

    Signal sig_;
    uint32_t sig_start_;
    uint32_t last_compose_;
    bool dirty_;
};

}  // namespace reader

#endif
