// Reader protocol v1 (docs/PROTOCOL.md): CRC, COBS, message encode/decode.
//
// Portable C++: no Arduino or AVR headers, so the same file is compiled by
// avr-g++ for the board and by the host g++ for the byte-for-byte vector
// tests (firmware/host/). Keep it free of dynamic memory and of anything
// bigger than the 64-byte body the protocol allows.
#ifndef CLOCK_READER_PROTO_H
#define CLOCK_READER_PROTO_H

#include <stddef.h>
#include <stdint.h>

namespace proto {

const uint8_t VERSION = 1;

// Section 2.1: body = version, type, seq(2), payload(0..58), crc(2).
const uint8_t MAX_BODY = 64;
const uint8_t MIN_BODY = 6;
const uint8_t MAX_PAYLOAD = MAX_BODY - MIN_BODY;
// COBS adds one code byte per 254 data bytes plus one; 64 -> 65.
const uint8_t MAX_ENCODED = MAX_BODY + 1;
// Encoded body plus the 0x00 delimiter.
const uint8_t MAX_FRAME = MAX_ENCODED + 1;

// Section 4.1: two lines of 16 characters separated by one line feed.
const uint8_t MAX_TEXT = 33;
const uint8_t LINE_WIDTH = 16;
const uint8_t MAX_UID = 10;

enum Type : uint8_t {
    T_HELLO = 0x01,
    T_HELLO_ACK = 0x02,
    T_SWIPE = 0x03,
    T_RESULT = 0x04,
    T_HEARTBEAT = 0x05,
    T_NAK = 0x06,
};

// Section 4.7. OK (0) is ours: "no error", never sent.
enum Reason : uint8_t {
    OK = 0,
    BAD_CRC = 1,
    UNSUPPORTED_VERSION = 2,
    UNKNOWN_TYPE = 3,
    TOO_LONG = 4,
    BAD_PAYLOAD = 5,
    NOT_READY = 6,
    BAD_FRAMING = 7,
};

enum Role : uint8_t { ROLE_UNSET = 0, ROLE_IN = 1, ROLE_OUT = 2 };
enum Status : uint8_t { STATUS_KO = 0, STATUS_OK = 2 };

// One decoded or to-be-encoded message. A flat struct rather than a union:
// it costs a few dozen bytes of RAM, and the firmware holds one or two of
// them, while it keeps the encode/decode code and the tests simple.
struct Message {
    uint8_t type;
    uint16_t seq;
    // HELLO: role, session, hardware_id, fw. HELLO_ACK: accepted, role,
    // heartbeat_ms, text.
    uint8_t role;
    uint32_t session;
    uint8_t hardware_id[8];
    uint8_t fw_major, fw_minor, fw_patch;
    uint8_t accepted;
    uint16_t heartbeat_ms;
    // SWIPE
    uint8_t uid_len;
    uint8_t uid[MAX_UID];
    // RESULT
    uint8_t status;
    // HELLO_ACK and RESULT display text; not NUL-terminated on the wire,
    // but kept NUL-terminated here for convenience.
    uint8_t text_len;
    char text[MAX_TEXT + 1];
    // NAK
    uint8_t reason;
    uint8_t detail;
};

void clear(Message &m);

// CRC-16/CCITT-FALSE (section 2.2): poly 0x1021, init 0xFFFF, no reflection.
uint16_t crc16(const uint8_t *p, size_t n);

// COBS (section 2.3). cobs_encode writes at most n + n/254 + 1 bytes and
// returns the count. cobs_decode returns the decoded length, or -1 when the
// input is not valid COBS (a code byte past the end, or a 0x00 inside) or
// the output would not fit in cap.
size_t cobs_encode(const uint8_t *in, size_t n, uint8_t *out);
int cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap);

// Section 4.1 rules for display text.
bool text_valid(const uint8_t *t, size_t n);

// Builds the whole wire frame (COBS(body) 0x00) for m into out, which must
// hold MAX_FRAME bytes. Returns the frame length, or 0 if m cannot be
// encoded (a field out of range: we never put an invalid frame on the wire).
size_t encode(const Message &m, uint8_t *out);

// Checks a decoded body (after COBS) and fills m. Returns OK or the NAK
// reason of section 4.7. When the CRC was valid, m.type and m.seq are set
// even on error, so a NAK can carry the offending frame's seq (section 3);
// *crc_ok tells whether that was the case.
Reason parse_body(const uint8_t *body, size_t n, Message &m, bool *crc_ok);

// The seq and detail of the NAK answering a bad frame (sections 3, 4.7),
// from parse_body's verdict, crc_ok and partially filled message.
void nak_for(Reason why, bool crc_ok, const Message &bad, uint16_t *seq, uint8_t *detail);

// Streaming receiver: feed bytes one at a time; a complete frame (at the
// 0x00 delimiter) yields OK with the message, or an error verdict. Empty
// frames are ignored silently (section 2). The buffer is the 65-byte bound
// of section 2.1; more bytes before a delimiter give TOO_LONG once, at the
// delimiter, and no state of the bad frame is kept.
class Decoder {
public:
    enum Event : uint8_t { NONE = 0, FRAME = 1, ERROR = 2 };
    Decoder() : len_(0), overflow_(false) {}
    // Returns NONE while inside a frame or on an empty frame, FRAME with
    // *msg filled, or ERROR with *why set (and msg->type/seq valid when
    // *crc_ok, so the caller can address a NAK).
    Event feed(uint8_t byte, Message *msg, Reason *why, bool *crc_ok);
    void reset() { len_ = 0; overflow_ = false; }

private:
    uint8_t buf_[MAX_ENCODED];
    uint8_t len_;
    bool overflow_;
};

}  // namespace proto

#endif
