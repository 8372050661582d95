// Host test: proto.cpp against the protocol vectors, byte for byte.
//
// For each valid vector: encoding the message gives exactly frame_hex, and
// decoding frame_hex (through the streaming Decoder, one byte at a time as
// the firmware does) gives exactly the message. For each invalid vector the
// Decoder reports the expected verdict. The tables come from JSON via
// tools/vectors_to_header.py (see the Makefile's host-test target).
#include <stdio.h>
#include <string.h>

#include "proto.h"

struct ValidVector {
    const char *name;
    void (*fill)(proto::Message &);
    const unsigned char *frame;
    unsigned len;
};
struct InvalidVector {
    const char *name;
    const unsigned char *frame;
    unsigned len;
    int verdict;  // proto::Reason, or -1 for "no event" (empty frame)
    int nak_seq;  // what the answering NAK carries; -1 when the JSON omits it
    int nak_detail;
};

#include "vectors.inc"

static int failures = 0;

static void hexdump(const char *what, const unsigned char *p, unsigned n) {
    fprintf(stderr, "    %s:", what);
    for (unsigned i = 0; i < n; i++) fprintf(stderr, " %02X", p[i]);
    fprintf(stderr, "\n");
}

static void fail(const char *name, const char *why) {
    fprintf(stderr, "FAIL %s: %s\n", name, why);
    failures++;
}

static bool same(const proto::Message &a, const proto::Message &b) {
    return a.type == b.type && a.seq == b.seq && a.role == b.role && a.session == b.session &&
           !memcmp(a.hardware_id, b.hardware_id, 8) && a.fw_major == b.fw_major &&
           a.fw_minor == b.fw_minor && a.fw_patch == b.fw_patch && a.accepted == b.accepted &&
           a.heartbeat_ms == b.heartbeat_ms && a.uid_len == b.uid_len &&
           !memcmp(a.uid, b.uid, a.uid_len) && a.status == b.status && a.text_len == b.text_len &&
           !memcmp(a.text, b.text, a.text_len) && a.reason == b.reason && a.detail == b.detail;
}

// Feeds a whole byte string; returns the last event and its data.
static bool last_crc_ok;
static proto::Decoder::Event run(const unsigned char *p, unsigned n, proto::Message &m,
                                 proto::Reason &why, int *events) {
    proto::Decoder d;
    proto::Decoder::Event last = proto::Decoder::NONE;
    bool crc_ok = false;
    *events = 0;
    for (unsigned i = 0; i < n; i++) {
        proto::Decoder::Event e = d.feed(p[i], &m, &why, &crc_ok);
        if (e != proto::Decoder::NONE) {
            last = e;
            last_crc_ok = crc_ok;
            ++*events;
        }
    }
    return last;
}

int main() {
    // Section 2.2's check value, before anything else depends on the CRC.
    if (proto::crc16((const uint8_t *)"123456789", 9) != 0x29B1) fail("crc_check", "not 0x29B1");

    unsigned checked = 0;
    for (unsigned i = 0; i < N_VALID; i++) {
        const ValidVector &v = VALID[i];
        proto::Message want, got;
        v.fill(want);
        unsigned char out[proto::MAX_FRAME + 8];
        size_t n = proto::encode(want, out);
        if (n != v.len || memcmp(out, v.frame, n) != 0) {
            fail(v.name, "encode differs");
            hexdump("want", v.frame, v.len);
            hexdump("got ", out, (unsigned)n);
        }
        proto::Reason why = proto::OK;
        int events;
        proto::Decoder::Event e = run(v.frame, v.len, got, why, &events);
        if (e != proto::Decoder::FRAME || events != 1) {
            char msg[64];
            snprintf(msg, sizeof msg, "decode gave event %d verdict %d", (int)e, (int)why);
            fail(v.name, msg);
        } else if (!same(want, got)) {
            fail(v.name, "decoded fields differ");
        }
        checked++;
    }
    for (unsigned i = 0; i < N_INVALID; i++) {
        const InvalidVector &v = INVALID[i];
        proto::Message m;
        proto::Reason why = proto::OK;
        int events;
        proto::Decoder::Event e = run(v.frame, v.len, m, why, &events);
        bool ok = v.verdict < 0 ? events == 0
                                : (e == proto::Decoder::ERROR && events == 1 && why == v.verdict);
        if (!ok) {
            char msg[96];
            snprintf(msg, sizeof msg, "want verdict %d, got event %d verdict %d (%d events)",
                     v.verdict, (int)e, (int)why, events);
            fail(v.name, msg);
        } else if (v.verdict >= 0) {
            uint16_t seq;
            uint8_t detail;
            proto::nak_for(why, last_crc_ok, m, &seq, &detail);
            if ((v.nak_seq >= 0 && seq != v.nak_seq) || (v.nak_detail >= 0 && detail != v.nak_detail)) {
                char msg[96];
                snprintf(msg, sizeof msg, "NAK seq/detail %u/%u, want %d/%d", seq, detail,
                         v.nak_seq, v.nak_detail);
                fail(v.name, msg);
            }
        }
        checked++;
    }

    // Resynchronisation (section 2): garbage, then a good frame, is one
    // error and one frame; no state of the bad frame leaks into the next.
    if (N_VALID) {
        unsigned char buf[200];
        unsigned n = 0;
        const unsigned char junk[] = {0x13, 0x37, 0x00, 0xFF, 0xFF, 0xFF, 0x00};
        memcpy(buf, junk, sizeof junk);
        n = sizeof junk;
        memcpy(buf + n, VALID[0].frame, VALID[0].len);
        n += VALID[0].len;
        proto::Message m, want;
        proto::Reason why;
        int events;
        if (run(buf, n, m, why, &events) != proto::Decoder::FRAME || events != 3)
            fail("resync", "garbage then frame: not error, error, frame");
        VALID[0].fill(want);
        if (!same(m, want)) fail("resync", "frame after garbage decoded wrong");
        checked++;
    }

    printf("host vectors: %u checked, %d failed (%u valid, %u invalid)\n", checked, failures,
           N_VALID, N_INVALID);
    return failures ? 1 : 0;
}
