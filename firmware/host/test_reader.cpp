// Host test: the reader's protocol behaviour (reader.cpp) against
// docs/PROTOCOL.md section 6, with fake hardware and a fake clock, so every
// timing rule is checked exactly (the simulator tests check the same on the
// real binary, with real-time jitter).
#include <stdio.h>
#include <string.h>

#include <string>
#include <vector>

#include "iso14443a.h"
#include "proto.h"
#include "reader.h"

using namespace proto;

// ---- fake hardware -------------------------------------------------------
static std::vector<Message> sent;  // frames the reader wrote, decoded
static std::vector<std::string> sent_raw;
static std::string row0, row1;
static bool led_green, led_red, buzz;
static uint8_t jumper = ROLE_IN;
static uint32_t boots = 0;
static Decoder wire;

void hal::send(const uint8_t *p, uint8_t n) {
    sent_raw.push_back(std::string((const char *)p, n));
    for (uint8_t i = 0; i < n; i++) {
        Message m;
        Reason why;
        bool crc_ok;
        Decoder::Event e = wire.feed(p[i], &m, &why, &crc_ok);
        if (e == Decoder::FRAME) sent.push_back(m);
        if (e == Decoder::ERROR) fprintf(stderr, "reader sent an invalid frame (%d)\n", why);
    }
}
void hal::show(const char *a, const char *b) {
    row0.assign(a, 16);
    row1.assign(b, 16);
}
void hal::leds(bool g, bool r) { led_green = g, led_red = r; }
void hal::buzzer(bool on) { buzz = on; }
uint8_t hal::role() { return jumper; }
uint32_t hal::next_session() { return ++boots; }
void hal::hardware_id(uint8_t out[8]) {
    for (uint8_t i = 0; i < 8; i++) out[i] = (uint8_t)(0xA0 + i);
}

// ---- test plumbing -------------------------------------------------------
static int failures = 0, checks = 0;
#define CHECK(cond)                                                   \
    do {                                                              \
        checks++;                                                     \
        if (!(cond)) {                                                \
            failures++;                                               \
            fprintf(stderr, "%s:%d: CHECK(%s) failed at t=%u ms\n", __FILE__, \
                    __LINE__, #cond, (unsigned)now);                  \
        }                                                             \
    } while (0)

static reader::Reader r;
static uint32_t now = 0;

// Advances the clock to t, ticking every 5 ms like a busy main loop.
static void run_to(uint32_t t) {
    while (now < t) {
        now += 5;
        if (now > t) now = t;
        r.tick(now);
    }
}
static void run_for(uint32_t ms) { run_to(now + ms); }

static void gateway(const Message &m) {
    uint8_t buf[MAX_FRAME];
    size_t n = encode(m, buf);
    if (!n) fprintf(stderr, "test bug: cannot encode gateway message\n");
    for (size_t i = 0; i < n; i++) r.on_byte(buf[i], now);
    r.tick(now);
}
static void gateway_bytes(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) r.on_byte(p[i], now);
    r.tick(now);
}
static Message ack(uint8_t accepted = 1, uint16_t hb = 1000, const char *text = "Clock in") {
    Message m;
    clear(m);
    m.type = T_HELLO_ACK;
    m.accepted = accepted;
    m.role = ROLE_IN;
    m.heartbeat_ms = hb;
    m.text_len = (uint8_t)strlen(text);
    memcpy(m.text, text, m.text_len);
    return m;
}
static Message heartbeat() {
    Message m;
    clear(m);
    m.type = T_HEARTBEAT;
    return m;
}
static Message result(uint16_t seq, uint8_t status, const char *text) {
    Message m;
    clear(m);
    m.type = T_RESULT;
    m.seq = seq;
    m.status = status;
    m.text_len = (uint8_t)strlen(text);
    memcpy(m.text, text, m.text_len);
    return m;
}
static Message nak(uint8_t reason, uint16_t seq = 0) {
    Message m;
    clear(m);
    m.type = T_NAK;
    m.seq = seq;
    m.reason = reason;
    return m;
}
static size_t count(uint8_t type, size_t from = 0) {
    size_t n = 0;
    for (size_t i = from; i < sent.size(); i++) n += sent[i].type == type;
    return n;
}
static Message last(uint8_t type) {
    for (size_t i = sent.size(); i-- > 0;)
        if (sent[i].type == type) return sent[i];
    Message none;
    clear(none);
    return none;
}
static bool starts(const std::string &row, const char *s) { return row.compare(0, strlen(s), s) == 0; }

// The gateway stays alive: a heartbeat every `hb` ms while time runs.
static void alive_for(uint32_t ms, uint32_t hb = 1000) {
    uint32_t end = now + ms;
    while (now + hb <= end) {
        run_for(hb);
        gateway(heartbeat());
    }
    run_to(end);
}

static const uint8_t CARD[4] = {0x04, 0xA1, 0xB2, 0xC3};

int main() {
    // -- boot: HELLO at once, then every 1000 ms until HELLO_ACK (6.1)
    r.begin(now);
    r.tick(now);
    CHECK(sent.size() == 1 && sent[0].type == T_HELLO);
    CHECK(sent[0].role == ROLE_IN && sent[0].session == 1 && sent[0].seq == 0);
    CHECK(sent[0].hardware_id[0] == 0xA0 && sent[0].hardware_id[7] == 0xA7);
    CHECK(sent[0].fw_major == 1 && sent[0].fw_minor == 0 && sent[0].fw_patch == 0);
    CHECK(starts(row0, "Clock reader") && starts(row1, "Connecting"));
    run_to(995);
    CHECK(count(T_HELLO) == 1);
    run_to(1000);
    CHECK(count(T_HELLO) == 2);
    run_to(3400);
    CHECK(count(T_HELLO) == 4);
    CHECK(starts(row0, "Clock reader"));
    // -- silence for 3.5 s: the offline screen, red flashes
    run_to(3600);
    CHECK(starts(row0, "Offline"));
    CHECK(count(T_HEARTBEAT) == 0);  // no heartbeats before the ACK
    // -- HELLO_ACK: idle text, no more HELLOs, heartbeats every interval
    gateway(ack());
    CHECK(r.link() == reader::Reader::UP);
    CHECK(starts(row0, "Clock in") && starts(row1, "                "));
    size_t mark = sent.size();
    alive_for(3000);
    CHECK(count(T_HELLO, mark) == 0);
    CHECK(count(T_HEARTBEAT, mark) == 3);

    // -- a tap: SWIPE seq 1, wait screen with the UID
    mark = sent.size();
    r.on_tap(CARD, 4, now);
    r.tick(now);
    CHECK(sent.size() == mark + 1 && sent.back().type == T_SWIPE && sent.back().seq == 1);
    CHECK(sent.back().uid_len == 4 && !memcmp(sent.back().uid, CARD, 4));
    CHECK(starts(row0, "Please wait") && starts(row1, "04A1B2C3"));
    std::string first = sent_raw.back();
    // taps while pending are ignored (6.3 stop-and-wait)
    r.on_tap(CARD, 4, now);
    CHECK(count(T_SWIPE, mark) == 1);
    // -- no RESULT: 5 retransmissions 1000 ms apart, same bytes, then KO
    alive_for(999);
    CHECK(count(T_SWIPE, mark) == 1);
    alive_for(1);
    CHECK(count(T_SWIPE, mark) == 2 && sent_raw.back() == first);
    alive_for(4000);
    CHECK(count(T_SWIPE, mark) == 6);
    for (size_t i = mark; i < sent.size(); i++)
        if (sent[i].type == T_SWIPE) CHECK(sent[i].seq == 1);
    alive_for(999);
    CHECK(r.pending() && starts(row0, "Please wait"));
    alive_for(1);
    CHECK(!r.pending() && count(T_SWIPE, mark) == 6);
    CHECK(starts(row0, "No answer"));
    CHECK(led_red && !led_green && buzz);  // KO: red and a long beep
    run_for(590);
    CHECK(buzz);
    run_for(20);
    CHECK(!buzz);
    // a late RESULT for the given-up seq changes nothing: never OK without it
    gateway(result(1, STATUS_OK, "In - Ana"));
    CHECK(starts(row0, "No answer"));
    alive_for(3000);
    CHECK(starts(row0, "Clock in") && !led_red);

    // -- tap, BAD_CRC NAK: immediate retransmission; stale RESULT ignored
    mark = sent.size();
    r.on_tap(CARD, 4, now);
    CHECK(sent.back().seq == 2);
    run_for(100);
    gateway(nak(BAD_CRC));
    CHECK(count(T_SWIPE, mark) == 2 && sent.back().seq == 2);
    gateway(result(1, STATUS_OK, "stale"));
    CHECK(r.pending() && starts(row0, "Please wait"));
    // -- RESULT OK: text for 3 s, green and a short beep
    gateway(result(2, STATUS_OK, "In - Ana\nHave a nice day"));
    CHECK(!r.pending());
    CHECK(starts(row0, "In - Ana        ") && starts(row1, "Have a nice day "));
    CHECK(led_green && !led_red && buzz);
    run_for(100);
    CHECK(!buzz);
    alive_for(2850);
    CHECK(starts(row0, "In - Ana"));
    alive_for(100);
    CHECK(starts(row0, "Clock in") && !led_green);
    // -- RESULT KO with empty text: local "Rejected", red
    r.on_tap(CARD, 4, now);
    gateway(result(3, STATUS_KO, ""));
    CHECK(starts(row0, "KO              ") && led_red && !led_green);
    alive_for(3000);

    // -- NOT_READY while a SWIPE is pending: HELLO at once, then after the
    //    ACK the SWIPE again (6.1); same session
    mark = sent.size();
    r.on_tap(CARD, 4, now);
    uint16_t seq = sent.back().seq;
    CHECK(seq == 4);
    gateway(nak(NOT_READY));
    CHECK(sent.back().type == T_HELLO && sent.back().session == 1);
    CHECK(count(T_SWIPE, mark) == 1);
    gateway(ack());
    CHECK(sent.back().type == T_SWIPE && sent.back().seq == seq);
    gateway(ack());  // a duplicate ACK does not send it again
    CHECK(count(T_SWIPE, mark) == 2);
    gateway(result(seq, STATUS_OK, "Out - Bob"));
    CHECK(starts(row0, "Out - Bob"));
    alive_for(3000);

    // -- garbage from the gateway: NAKs, at most one per 250 ms, never to a NAK
    mark = sent.size();
    const uint8_t junk[] = {0x55, 0x55, 0x00};  // COBS code past the end
    gateway_bytes(junk, sizeof junk);
    CHECK(count(T_NAK, mark) == 1 && last(T_NAK).reason == BAD_FRAMING && last(T_NAK).seq == 0);
    run_for(100);
    gateway_bytes(junk, sizeof junk);
    CHECK(count(T_NAK, mark) == 1);  // rate limit
    run_for(200);
    {
        // valid CRC, unknown type 0x42, seq 9: NAK UNKNOWN_TYPE, detail 0x42, seq 9
        uint8_t body[6] = {1, 0x42, 0, 9, 0, 0};
        uint16_t c = crc16(body, 4);
        body[4] = (uint8_t)(c >> 8);
        body[5] = (uint8_t)c;
        uint8_t f[8];
        size_t n = cobs_encode(body, 6, f);
        f[n++] = 0;
        gateway_bytes(f, n);
        CHECK(count(T_NAK, mark) == 2 && last(T_NAK).reason == UNKNOWN_TYPE);
        CHECK(last(T_NAK).detail == 0x42 && last(T_NAK).seq == 9);
        // a malformed NAK (valid CRC, 3-byte payload) is not answered
        run_for(300);
        uint8_t nb[9] = {1, T_NAK, 0, 0, 1, 0, 0, 0, 0};
        c = crc16(nb, 7);
        nb[7] = (uint8_t)(c >> 8);
        nb[8] = (uint8_t)c;
        uint8_t g[12];
        n = cobs_encode(nb, 9, g);
        g[n++] = 0;
        gateway_bytes(g, n);
        CHECK(count(T_NAK, mark) == 2);
    }
    CHECK(r.link() == reader::Reader::UP);  // garbage is not a sign of life, but not fatal
    alive_for(2000);

    // -- gateway gone (3.5 heartbeats): HELLO every 1000 ms, offline screen,
    //    same session; a tap is refused locally and sends nothing
    mark = sent.size();
    run_for(3495);
    CHECK(r.link() == reader::Reader::UP && count(T_HELLO, mark) == 0);
    run_for(10);
    CHECK(r.link() == reader::Reader::DOWN && count(T_HELLO, mark) == 1);
    CHECK(sent.back().session == 1);
    CHECK(starts(row0, "Offline"));
    // a tap while offline is kept (6.3): no SWIPE yet, the wait screen
    r.on_tap(CARD, 4, now);
    r.tick(now);
    CHECK(count(T_SWIPE, mark) == 0 && r.pending() && starts(row0, "Please wait"));
    run_for(1000);
    CHECK(count(T_HELLO, mark) == 2);
    run_for(2000);
    CHECK(count(T_SWIPE, mark) == 0);
    // HELLO_ACK: the kept SWIPE goes at once
    gateway(ack(1, 500, "Back"));
    CHECK(count(T_SWIPE, mark) == 1);
    seq = last(T_SWIPE).seq;
    CHECK(seq == 5);
    gateway(result(seq, STATUS_OK, ""));
    CHECK(starts(row0, "OK              ") && led_green);  // empty text: local "OK"
    alive_for(3000, 500);
    CHECK(starts(row0, "Back"));
    // heartbeat interval from HELLO_ACK: 500 ms, gone after 1750 ms
    mark = sent.size();
    run_for(1000);
    CHECK(count(T_HEARTBEAT, mark) == 2);
    run_for(745);
    CHECK(r.link() == reader::Reader::UP);
    run_for(10);
    CHECK(r.link() == reader::Reader::DOWN);

    // -- refused: its text, HELLO every 5000 ms instead of 1000
    gateway(ack(0, 1000, "Wrong port"));
    CHECK(r.link() == reader::Reader::REFUSED);
    CHECK(starts(row0, "Wrong port"));
    mark = sent.size();
    run_for(4990);
    CHECK(count(T_HELLO, mark) == 0);
    run_for(10);
    CHECK(count(T_HELLO, mark) == 1);
    // a tap that never finds the gateway is settled by "no answer" in 6 s
    r.on_tap(CARD, 4, now);
    run_for(5990);
    CHECK(r.pending() && count(T_SWIPE, mark) == 0);
    run_for(10);
    CHECK(!r.pending() && count(T_SWIPE, mark) == 0 && starts(row0, "No answer"));
    gateway(ack());
    CHECK(r.link() == reader::Reader::UP);
    alive_for(1000);

    // -- one tap = one swipe: the filter
    {
        reader::TapFilter f;
        const uint8_t other[7] = {0x04, 1, 2, 3, 4, 5, 6};
        CHECK(f.seen(CARD, 4, 10000));
        CHECK(!f.seen(CARD, 4, 10050));
        CHECK(!f.seen(CARD, 4, 10549));   // held: seen every < 500 ms
        CHECK(f.seen(CARD, 4, 11049));    // absent for 500 ms: a new tap
        CHECK(f.seen(other, 7, 11060));   // another card is another tap
        CHECK(f.seen(CARD, 4, 11070));
        // Polled every 2 ms: a held card is still one tap; the rule is time.
        reader::TapFilter g;
        CHECK(g.seen(CARD, 4, 20000));
        bool again = false;
        for (uint32_t t = 20002; t < 23000; t += 2) again = again || g.seen(CARD, 4, t);
        CHECK(!again);
        CHECK(g.seen(CARD, 4, 23500));   // gone 500 ms (from 22998): new tap
        // hold(): no polls while a SWIPE waits 2 s; the card stays one tap.
        reader::TapFilter h;
        CHECK(h.seen(CARD, 4, 30000));
        for (uint32_t t = 30000; t <= 32000; t += 100) h.hold(t);
        CHECK(!h.seen(CARD, 4, 32002));
        reader::TapFilter e;
        e.hold(40000);                   // nothing seen yet: hold is a no-op
        CHECK(e.seen(CARD, 4, 40001));
    }

    // -- the seq counter never passes 65535: a new session starts (section 3)
    {
        uint16_t last = 0;
        for (uint32_t i = 0; i < 70000 && r.session() == 1; i++) {
            r.on_tap(CARD, 4, now);
            last = sent.back().seq;
            gateway(result(last, STATUS_OK, ""));
            if (i % 512 == 0) gateway(heartbeat());
        }
        CHECK(last == 65535);
        CHECK(r.session() == 2 && sent.back().type == T_HELLO && sent.back().session == 2);
        gateway(ack());
        run_for(3000);
        r.on_tap(CARD, 4, now);
        CHECK(sent.back().type == T_SWIPE && sent.back().seq == 1);
    }

    // CRC_A, used by the MFRC522 driver for SELECT and HLTA: the examples of
    // ISO/IEC 14443-3 annex B, and the well-known HLTA frame 50 00 57 CD.
    {
        const uint8_t z[2] = {0x00, 0x00}, x[2] = {0x12, 0x34}, hlta[2] = {0x50, 0x00};
        CHECK(iso14443a::crc_a(z, 2) == 0x1EA0);
        CHECK(iso14443a::crc_a(x, 2) == 0xCF26);
        CHECK(iso14443a::crc_a(hlta, 2) == 0xCD57);
    }

    printf("host reader: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
