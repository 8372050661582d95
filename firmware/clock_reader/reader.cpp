// Reader behaviour, see reader.h. Portable C++ (avr-libc's pgmspace only
// under __AVR__, to keep constant texts out of the 2 KB of RAM).
#include "reader.h"

#include <string.h>

#ifdef __AVR__
#include <avr/pgmspace.h>
#define FLASH_TEXT(name, s) static const char name[] PROGMEM = s
static char flash_char(const char *p) { return (char)pgm_read_byte(p); }
#else
#define FLASH_TEXT(name, s) static const char name[] = s
static char flash_char(const char *p) { return *p; }
#endif

namespace reader {

using namespace proto;

// Local screens (two lines of at most 16 characters, as gateway texts).
FLASH_TEXT(TXT_BOOT, "Clock reader\nConnecting...");
FLASH_TEXT(TXT_OFFLINE, "Offline\nWaiting for PC");
FLASH_TEXT(TXT_NO_ANSWER, "No answer\nTry again");
// Same local texts as the reference emulator (gateway/protocol/reader.py).
FLASH_TEXT(TXT_IDLE_DEFAULT, "Ready");
FLASH_TEXT(TXT_REFUSED_DEFAULT, "Reader refused");
FLASH_TEXT(TXT_OK_DEFAULT, "OK");
FLASH_TEXT(TXT_KO_DEFAULT, "KO");
FLASH_TEXT(TXT_WAIT, "Please wait...");

static uint8_t flash_len(const char *p) {
    uint8_t n = 0;
    while (flash_char(p + n)) n++;
    return n;
}

bool TapFilter::seen(const uint8_t *uid, uint8_t len, uint32_t now) {
    bool fresh = !have_ || len != len_ || memcmp(uid, uid_, len) != 0 ||
                 (uint32_t)(now - last_seen_) >= CARD_ABSENCE;
    have_ = true;
    len_ = len;
    memcpy(uid_, uid, len);
    last_seen_ = now;
    return fresh;
}

// Lays out display text (section 4.1) on the 2x16 screen: line 1 on row 0,
// line 2 on row 1, left-aligned, the rest blank.
static void layout(const char *t, uint8_t n, bool in_flash, char *row0, char *row1) {
    memset(row0, ' ', LINE_WIDTH);
    memset(row1, ' ', LINE_WIDTH);
    char *row = row0;
    uint8_t col = 0;
    for (uint8_t i = 0; i < n; i++) {
        char c = in_flash ? flash_char(t + i) : t[i];
        if (c == '\n') {
            if (row == row1) break;
            row = row1;
            col = 0;
        } else if (col < LINE_WIDTH) {
            row[col++] = c;
        }
    }
}

static const char HEX[] = "0123456789ABCDEF";

void Reader::begin(uint32_t now) {
    dec_.reset();
    link_ = DOWN;
    ever_up_ = false;
    heartbeat_ms_ = DEFAULT_HEARTBEAT;
    last_rx_ = last_tx_ = last_nak_ = now;
    nak_sent_ = false;
    pending_ = false;
    idle_len_ = 0;
    msg_on_ = false;
    sig_ = SIG_NONE;
    sig_start_ = now;
    last_compose_ = now;
    dirty_ = true;
    new_session(now);
}

void Reader::new_session(uint32_t now) {
    session_ = hal::next_session();
    next_seq_ = 1;
    link_ = DOWN;
    send_hello(now);
}

uint16_t Reader::gone_after() const {
    // 3.5 intervals (section 6.2). After a refusal the gateway only speaks
    // when we HELLO every 5 s, so judge silence on that period instead, or
    // the screen would flap between the reason and "offline".
    uint32_t base = link_ == REFUSED ? HELLO_PERIOD_REFUSED : heartbeat_ms_;
    return (uint16_t)(base * 7 / 2);
}

void Reader::send_msg(Message &m, uint32_t now) {
    uint8_t n = (uint8_t)encode(m, tx_);
    if (n) {
        hal::send(tx_, n);
        last_tx_ = now;
    }
}

void Reader::send_hello(uint32_t now) {
    clear(msg_);
    msg_.type = T_HELLO;
    msg_.role = hal::role();
    msg_.session = session_;
    hal::hardware_id(msg_.hardware_id);
    msg_.fw_major = FW_MAJOR;
    msg_.fw_minor = FW_MINOR;
    msg_.fw_patch = FW_PATCH;
    send_msg(msg_, now);
    last_hello_ = now;
}

void Reader::send_swipe(uint32_t now) {
    clear(msg_);
    msg_.type = T_SWIPE;
    msg_.seq = p_seq_;
    msg_.uid_len = p_len_;
    memcpy(msg_.uid, p_uid_, p_len_);
    send_msg(msg_, now);
    sends_++;
    p_next_try_ = now + RETRY_TIMEOUT;
}

// A retry slot is due: send if the gateway is there, else let the slot pass
// (the SWIPE goes as soon as HELLO is acknowledged); give up after 6 sends
// or 6 s from the tap, so every tap is settled in bounded time.
void Reader::try_swipe(uint32_t now) {
    if (sends_ >= MAX_SENDS || (uint32_t)(now - p_tap_) >= GIVE_UP) {
        pending_ = false;
        message(TXT_NO_ANSWER, 0, true, SIG_KO, now);
        return;
    }
    if (link_ == UP)
        send_swipe(now);
    else
        p_next_try_ = now + RETRY_TIMEOUT;
}

void Reader::send_nak(uint8_t reason, uint8_t detail, uint16_t seq, uint32_t now) {
    // Section 4.7: at most one NAK per 250 ms, so noise cannot make us flood.
    if (nak_sent_ && (uint32_t)(now - last_nak_) < NAK_MIN_GAP) return;
    clear(msg_);
    msg_.type = T_NAK;
    msg_.seq = seq;
    msg_.reason = reason;
    msg_.detail = detail;
    send_msg(msg_, now);
    last_nak_ = now;
    nak_sent_ = true;
}

void Reader::message(const char *text, uint8_t len, bool in_flash, Signal sig, uint32_t now) {
    msg_flash_ = in_flash;
    if (in_flash) {
        msg_flash_ptr_ = text;
        msg_len_ = flash_len(text);
    } else {
        memcpy(msg_text_, text, len);
        msg_len_ = len;
    }
    msg_on_ = true;
    msg_start_ = now;
    sig_ = sig;
    sig_start_ = now;
    dirty_ = true;
}

void Reader::on_byte(uint8_t b, uint32_t now) {
    Reason why = OK;
    bool crc_ok = false;
    Decoder::Event ev = dec_.feed(b, &msg_, &why, &crc_ok);
    if (ev == Decoder::FRAME)
        on_frame(msg_, now);
    else if (ev == Decoder::ERROR)
        on_bad_frame(why, crc_ok, msg_, now);
}

void Reader::on_bad_frame(Reason why, bool crc_ok, const Message &m, uint32_t now) {
    // Never answer a NAK with a NAK (section 4.7), even a malformed one.
    if (crc_ok && m.type == T_NAK) return;
    uint16_t seq;
    uint8_t detail;
    nak_for(why, crc_ok, m, &seq, &detail);
    send_nak(why, detail, seq, now);
}

void Reader::on_frame(const Message &m, uint32_t now) {
    last_rx_ = now;  // any valid frame is a sign of life
    dirty_ = true;
    switch (m.type) {
        case T_HELLO_ACK:
            idle_len_ = m.text_len;
            memcpy(idle_, m.text, m.text_len);
            if (m.accepted) {
                heartbeat_ms_ = m.heartbeat_ms;
                bool was_up = link_ == UP;
                link_ = UP;
                ever_up_ = true;
                // Section 6.1: after a reconnect, the pending SWIPE (maybe
                // tapped while offline) goes at once if it has sends left.
                if (!was_up && pending_ && sends_ < MAX_SENDS) send_swipe(now);
            } else {
                link_ = REFUSED;
            }
            break;
        case T_RESULT:
            // A RESULT for anything but the pending seq is a late duplicate.
            if (!pending_ || m.seq != p_seq_) break;
            pending_ = false;
            if (m.text_len)
                message(m.text, m.text_len, false, m.status == STATUS_OK ? SIG_OK : SIG_KO, now);
            else
                message(m.status == STATUS_OK ? TXT_OK_DEFAULT : TXT_KO_DEFAULT, 0, true,
                        m.status == STATUS_OK ? SIG_OK : SIG_KO, now);
            break;
        case T_NAK:
            if (m.reason == NOT_READY) {
                // The gateway restarted without resetting us: same session.
                link_ = DOWN;
                send_hello(now);
            } else if (m.reason == BAD_CRC) {
                // Our frame was damaged; a BAD_CRC NAK cannot carry a seq, so
                // resend whatever SWIPE is outstanding (it counts as a retry).
                if (pending_ && link_ == UP && sends_ < MAX_SENDS) send_swipe(now);
            }
            // Other reasons: nothing to do but carry on (no log on a board).
            break;
        default:
            // HEARTBEAT: liveness only. HELLO/SWIPE are the reader's own
            // messages and mean nothing coming from the gateway.
            break;
    }
}

void Reader::on_tap(const uint8_t *uid, uint8_t len, uint32_t now) {
    if (pending_) return;  // stop-and-wait: taps while pending are ignored
    // Section 3: never pass seq 65535 in a session (normally done in tick
    // right after the 65535th SWIPE is settled).
    if (next_seq_ == 0) new_session(now);
    // Offline too: the tap is kept and sent once HELLO is acknowledged
    // (section 6.3); it is settled by a RESULT or "no answer" within ~6 s.
    pending_ = true;
    p_seq_ = next_seq_++;  // wraps to 0 after 65535: new session (tick)
    p_len_ = len;
    memcpy(p_uid_, uid, len);
    sends_ = 0;
    p_tap_ = now;
    msg_on_ = false;  // a new tap replaces the previous result
    sig_ = SIG_NONE;
    dirty_ = true;
    try_swipe(now);
}

void Reader::tick(uint32_t now) {
    // Link: HELLO until acknowledged, heartbeats, peer-gone detection.
    uint32_t silent = now - last_rx_;
    if (link_ == UP) {
        if (silent >= gone_after()) {
            link_ = DOWN;
            send_hello(now);
            dirty_ = true;
        } else if ((uint32_t)(now - last_tx_) >= heartbeat_ms_) {
            clear(msg_);
            msg_.type = T_HEARTBEAT;
            send_msg(msg_, now);
        }
    } else if (link_ == REFUSED) {
        if (silent >= gone_after()) {
            link_ = DOWN;
            send_hello(now);
            dirty_ = true;
        } else if ((uint32_t)(now - last_hello_) >= HELLO_PERIOD_REFUSED) {
            send_hello(now);
        }
    } else if ((uint32_t)(now - last_hello_) >= HELLO_PERIOD) {
        send_hello(now);
    }

    // The outstanding SWIPE: retransmit, or give up with a local KO.
    if (pending_ && (int32_t)(now - p_next_try_) >= 0) try_swipe(now);
    // Section 3: the seq counter must not pass 65535 within a session.
    if (!pending_ && next_seq_ == 0) new_session(now);

    if (msg_on_ && (uint32_t)(now - msg_start_) >= RESULT_SHOW) {
        msg_on_ = false;
        dirty_ = true;
    }
    signals(now);
    // Recompose the screen on events, and every 100 ms for the timed ones
    // (offline after silence); the LCD driver writes only changed cells.
    if (dirty_ || (uint32_t)(now - last_compose_) >= 100) compose(now);
}

void Reader::signals(uint32_t now) {
    uint32_t dt = now - sig_start_;
    bool sig_on = sig_ != SIG_NONE && dt < RESULT_SHOW;
    bool offline = link_ != UP && (uint32_t)(now - last_rx_) >= gone_after();
    // OK: green for the result time and one short beep. KO: red and one
    // long beep. Waiting: green blinks at 4 Hz. Offline: red flash every 2 s.
    bool green = (sig_on && sig_ == SIG_OK) || (pending_ && (now / 125) % 2 == 0);
    bool red = (sig_on && sig_ == SIG_KO) || (!sig_on && offline && now % 2000 < 150);
    bool beep = (sig_ == SIG_OK && dt < 100) || (sig_ == SIG_KO && dt < 600);
    hal::leds(green, red);
    hal::buzzer(beep);
}

void Reader::compose(uint32_t now) {
    char row0[LINE_WIDTH + 1], row1[LINE_WIDTH + 1];
    row0[LINE_WIDTH] = row1[LINE_WIDTH] = 0;
    bool offline = (uint32_t)(now - last_rx_) >= gone_after();
    if (msg_on_) {
        layout(msg_flash_ ? msg_flash_ptr_ : msg_text_, msg_len_, msg_flash_, row0, row1);
    } else if (pending_) {
        layout(TXT_WAIT, flash_len(TXT_WAIT), true, row0, row1);
        for (uint8_t i = 0; i < p_len_ && i < LINE_WIDTH / 2; i++) {
            row1[2 * i] = HEX[p_uid_[i] >> 4];
            row1[2 * i + 1] = HEX[p_uid_[i] & 15];
        }
    } else if (link_ == UP || (link_ == DOWN && ever_up_ && !offline)) {
        // Also while re-saying HELLO after NOT_READY: no flicker for a blip.
        if (idle_len_)
            layout(idle_, idle_len_, false, row0, row1);
        else
            layout(TXT_IDLE_DEFAULT, flash_len(TXT_IDLE_DEFAULT), true, row0, row1);
    } else if (link_ == REFUSED) {
        if (idle_len_)
            layout(idle_, idle_len_, false, row0, row1);
        else
            layout(TXT_REFUSED_DEFAULT, flash_len(TXT_REFUSED_DEFAULT), true, row0, row1);
    } else if (offline) {
        layout(TXT_OFFLINE, flash_len(TXT_OFFLINE), true, row0, row1);
    } else {
        layout(TXT_BOOT, flash_len(TXT_BOOT), true, row0, row1);
    }
    hal::show(row0, row1);
    last_compose_ = now;
    dirty_ = false;
}

}  // namespace reader
