// Reader protocol v1: see proto.h and docs/PROTOCOL.md. Portable C++.
#include "proto.h"

#include <string.h>

namespace proto {

void clear(Message &m) { memset(&m, 0, sizeof m); }

uint16_t crc16(const uint8_t *p, size_t n) {
    // Bitwise rather than table-driven: 512 bytes of table would be a
    // quarter of the ATmega328P's RAM (or flash reads on every byte), and
    // frames are at most 64 bytes, so the loop costs well under 1 ms.
    uint16_t crc = 0xFFFF;
    while (n--) {
        crc ^= (uint16_t)(*p++) << 8;
        for (uint8_t i = 0; i < 8; i++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

size_t cobs_encode(const uint8_t *in, size_t n, uint8_t *out) {
    size_t code_pos = 0;  // where the current block's code byte goes
    size_t o = 1;
    uint8_t code = 1;     // run length + 1
    for (size_t i = 0; i < n; i++) {
        if (in[i] == 0) {
            out[code_pos] = code;
            code_pos = o++;
            code = 1;
        } else {
            out[o++] = in[i];
            if (++code == 0xFF) {  // 254 data bytes: block without a zero
                out[code_pos] = code;
                code_pos = o++;
                code = 1;
            }
        }
    }
    out[code_pos] = code;
    return o;
}

int cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
    size_t i = 0, o = 0;
    while (i < n) {
        uint8_t code = in[i++];
        if (code == 0) return -1;
        for (uint8_t k = 1; k < code; k++) {
            if (i >= n) return -1;  // code byte points past the end
            uint8_t b = in[i++];
            if (b == 0) return -1;
            if (o >= cap) return -1;
            out[o++] = b;
        }
        // Every block but a full one implies a zero, except after the last.
        if (code != 0xFF && i < n) {
            if (o >= cap) return -1;
            out[o++] = 0;
        }
    }
    return (int)o;
}

bool text_valid(const uint8_t *t, size_t n) {
    if (n > MAX_TEXT) return false;
    uint8_t lines = 1, col = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = t[i];
        if (c == 0x0A) {
            if (++lines > 2) return false;
            col = 0;
        } else if (c >= 0x20 && c <= 0x7E) {
            if (++col > LINE_WIDTH) return false;
        } else {
            return false;
        }
    }
    return true;
}

static uint8_t put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return 2;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)((uint16_t)p[0] << 8 | p[1]); }

size_t encode(const Message &m, uint8_t *out) {
    uint8_t body[MAX_BODY];
    uint8_t n = 0;
    body[n++] = VERSION;
    body[n++] = m.type;
    n += put16(body + n, m.seq);
    switch (m.type) {
        case T_HELLO:
            if (m.role > ROLE_OUT) return 0;
            body[n++] = m.role;
            body[n++] = (uint8_t)(m.session >> 24);
            body[n++] = (uint8_t)(m.session >> 16);
            body[n++] = (uint8_t)(m.session >> 8);
            body[n++] = (uint8_t)m.session;
            memcpy(body + n, m.hardware_id, 8);
            n += 8;
            body[n++] = m.fw_major;
            body[n++] = m.fw_minor;
            body[n++] = m.fw_patch;
            break;
        case T_HELLO_ACK:
            if (m.accepted > 1 || m.role > ROLE_OUT || (m.accepted && m.role == ROLE_UNSET))
                return 0;
            if (m.heartbeat_ms < 100 || m.heartbeat_ms > 60000) return 0;
            if (!text_valid((const uint8_t *)m.text, m.text_len)) return 0;
            body[n++] = m.accepted;
            body[n++] = m.role;
            n += put16(body + n, m.heartbeat_ms);
            body[n++] = m.text_len;
            memcpy(body + n, m.text, m.text_len);
            n += m.text_len;
            break;
        case T_SWIPE:
            if (m.seq == 0) return 0;
            if (m.uid_len != 4 && m.uid_len != 7 && m.uid_len != 10) return 0;
            body[n++] = m.uid_len;
            memcpy(body + n, m.uid, m.uid_len);
            n += m.uid_len;
            break;
        case T_RESULT:
            if (m.seq == 0) return 0;
            if (m.status != STATUS_KO && m.status != STATUS_OK) return 0;
            if (!text_valid((const uint8_t *)m.text, m.text_len)) return 0;
            body[n++] = m.status;
            body[n++] = m.text_len;
            memcpy(body + n, m.text, m.text_len);
            n += m.text_len;
            break;
        case T_HEARTBEAT:
            break;
        case T_NAK:
            if (m.reason < BAD_CRC || m.reason > BAD_FRAMING) return 0;
            body[n++] = m.reason;
            body[n++] = m.detail;
            break;
        default:
            return 0;
    }
    n += put16(body + n, crc16(body, n));
    size_t len = cobs_encode(body, n, out);
    out[len++] = 0;
    return len;
}

static Reason parse_payload(uint8_t type, const uint8_t *p, uint8_t n, Message &m) {
    // SWIPE and RESULT are numbered from 1; seq 0 means "no sequence"
    // (section 3), so a SWIPE or RESULT carrying it is malformed.
    if ((type == T_SWIPE || type == T_RESULT) && m.seq == 0) return BAD_PAYLOAD;
    switch (type) {
        case T_HELLO:
            if (n != 16 || p[0] > ROLE_OUT) return BAD_PAYLOAD;
            m.role = p[0];
            m.session = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
            memcpy(m.hardware_id, p + 5, 8);
            m.fw_major = p[13];
            m.fw_minor = p[14];
            m.fw_patch = p[15];
            return OK;
        case T_HELLO_ACK: {
            // Text is length-prefixed (section 4.1): the payload must end
            // exactly after it, so a frame that gained or lost a byte fails.
            if (n < 5 || p[4] > MAX_TEXT || n != 5 + p[4]) return BAD_PAYLOAD;
            uint16_t hb = get16(p + 2);
            // Refusing may leave the role unset; accepting must assign one.
            if (p[0] > 1 || p[1] > ROLE_OUT || (p[0] == 1 && p[1] == ROLE_UNSET))
                return BAD_PAYLOAD;
            if (hb < 100 || hb > 60000) return BAD_PAYLOAD;
            if (!text_valid(p + 5, p[4])) return BAD_PAYLOAD;
            m.accepted = p[0];
            m.role = p[1];
            m.heartbeat_ms = hb;
            m.text_len = p[4];
            memcpy(m.text, p + 5, m.text_len);
            m.text[m.text_len] = 0;
            return OK;
        }
        case T_SWIPE:
            if (n < 1 || (p[0] != 4 && p[0] != 7 && p[0] != 10) || n != 1 + p[0])
                return BAD_PAYLOAD;
            m.uid_len = p[0];
            memcpy(m.uid, p + 1, m.uid_len);
            return OK;
        case T_RESULT:
            if (n < 2 || p[1] > MAX_TEXT || n != 2 + p[1]) return BAD_PAYLOAD;
            if (p[0] != STATUS_KO && p[0] != STATUS_OK) return BAD_PAYLOAD;
            if (!text_valid(p + 2, p[1])) return BAD_PAYLOAD;
            m.status = p[0];
            m.text_len = p[1];
            memcpy(m.text, p + 2, m.text_len);
            m.text[m.text_len] = 0;
            return OK;
        case T_HEARTBEAT:
            return n == 0 ? OK : BAD_PAYLOAD;
        case T_NAK:
            // A reason outside 1..7 is BAD_PAYLOAD (tests/vectors); either
            // way a NAK is never answered, so the reader just ignores it.
            if (n != 2 || p[0] < BAD_CRC || p[0] > BAD_FRAMING) return BAD_PAYLOAD;
            m.reason = p[0];
            m.detail = p[1];
            return OK;
        default:
            return UNKNOWN_TYPE;
    }
}

Reason parse_body(const uint8_t *body, size_t n, Message &m, bool *crc_ok) {
    clear(m);
    *crc_ok = false;
    if (n < MIN_BODY) return BAD_FRAMING;
    if (n > MAX_BODY) return TOO_LONG;
    if (crc16(body, n - 2) != get16(body + n - 2)) return BAD_CRC;
    *crc_ok = true;
    m.type = body[1];
    m.seq = get16(body + 2);
    if (body[0] != VERSION) return UNSUPPORTED_VERSION;
    return parse_payload(body[1], body + 4, (uint8_t)(n - MIN_BODY), m);
}

void nak_for(Reason why, bool crc_ok, const Message &bad, uint16_t *seq, uint8_t *detail) {
    // Another version may keep its seq elsewhere: only v1 frames are read.
    *seq = (crc_ok && why != UNSUPPORTED_VERSION) ? bad.seq : 0;
    if (why == UNSUPPORTED_VERSION)
        *detail = VERSION;
    else if (why == UNKNOWN_TYPE || why == BAD_PAYLOAD)
        *detail = bad.type;
    else
        *detail = 0;
}

Decoder::Event Decoder::feed(uint8_t byte, Message *msg, Reason *why, bool *crc_ok) {
    if (byte != 0) {
        if (len_ < sizeof buf_)
            buf_[len_++] = byte;
        else
            overflow_ = true;
        return NONE;
    }
    // Delimiter: judge what we collected, then forget it whatever the verdict.
    uint8_t n = len_;
    bool over = overflow_;
    reset();
    *crc_ok = false;
    if (over) {
        *why = TOO_LONG;
        return ERROR;
    }
    if (n == 0) return NONE;  // empty frame (or the flush byte): ignored
    uint8_t body[MAX_BODY];
    int bl = cobs_decode(buf_, n, body, sizeof body);
    if (bl < 0) {
        *why = BAD_FRAMING;
        return ERROR;
    }
    *why = parse_body(body, (size_t)bl, *msg, crc_ok);
    return *why == OK ? FRAME : ERROR;
}

}  // namespace proto
