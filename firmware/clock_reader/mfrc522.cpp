// MFRC522 driver, see mfrc522.h. Register numbers and bits from the NXP
// MFRC522 data sheet (rev. 3.9) sections 9.2-9.3; the card side from
// ISO/IEC 14443-3 (type A initialisation and anticollision).
#include "mfrc522.h"

#include <Arduino.h>
#include <string.h>

#include "board.h"
#include "iso14443a.h"

namespace mfrc522 {

using namespace iso14443a;

// Registers (data sheet table 20).
enum : uint8_t {
    CommandReg = 0x01,
    ComIrqReg = 0x04,
    ErrorReg = 0x06,
    FIFODataReg = 0x09,
    FIFOLevelReg = 0x0A,
    ControlReg = 0x0C,
    BitFramingReg = 0x0D,
    CollReg = 0x0E,
    ModeReg = 0x11,
    TxModeReg = 0x12,
    RxModeReg = 0x13,
    TxControlReg = 0x14,
    TxASKReg = 0x15,
    ModWidthReg = 0x24,
    TModeReg = 0x2A,
    TPrescalerReg = 0x2B,
    TReloadRegH = 0x2C,
    TReloadRegL = 0x2D,
    VersionReg = 0x37,
};
// Commands (table 149).
enum : uint8_t { CMD_IDLE = 0x00, CMD_TRANSCEIVE = 0x0C, CMD_SOFTRESET = 0x0F };
// ComIrqReg bits.
const uint8_t IRQ_TIMER = 0x01, IRQ_ERR = 0x02, IRQ_IDLE = 0x10, IRQ_RX = 0x20;
// ErrorReg bits.
const uint8_t ERR_PROTOCOL = 0x01, ERR_PARITY = 0x02, ERR_COLL = 0x08, ERR_BUFFER_OVFL = 0x10;

enum Status : uint8_t { ST_OK, ST_TIMEOUT, ST_ERROR, ST_COLLISION };

// ---- SPI (mode 0, MSB first, fosc/4 = 4 MHz; the chip allows 10 MHz) -----
static uint8_t spi(uint8_t b) {
    SPDR = b;
    while (!(SPSR & _BV(SPIF))) {
    }
    return SPDR;
}

static void spi_begin() {
    pinMode(PIN_RC522_SS, OUTPUT);  // also keeps the AVR SPI in master mode
    RC522_SS_PORT |= RC522_SS_BIT;
    pinMode(11, OUTPUT);  // MOSI
    pinMode(13, OUTPUT);  // SCK
    pinMode(12, INPUT);   // MISO
    SPCR = _BV(SPE) | _BV(MSTR);
    SPSR = 0;
}

// Address byte (data sheet 8.1.2.3): bit 7 = read, bits 6..1 = register.
static void write_reg(uint8_t reg, uint8_t v) {
    RC522_SS_PORT &= (uint8_t)~RC522_SS_BIT;
    spi((uint8_t)(reg << 1));
    spi(v);
    RC522_SS_PORT |= RC522_SS_BIT;
}

static uint8_t read_reg(uint8_t reg) {
    RC522_SS_PORT &= (uint8_t)~RC522_SS_BIT;
    spi((uint8_t)(0x80 | (reg << 1)));
    uint8_t v = spi(0);  // the value comes while we clock the next byte
    RC522_SS_PORT |= RC522_SS_BIT;
    return v;
}

static void write_fifo(const uint8_t *p, uint8_t n) {
    // Several data bytes after one address byte all go to that register.
    RC522_SS_PORT &= (uint8_t)~RC522_SS_BIT;
    spi((uint8_t)(FIFODataReg << 1));
    while (n--) spi(*p++);
    RC522_SS_PORT |= RC522_SS_BIT;
}

static void read_fifo(uint8_t *p, uint8_t n) {
    if (!n) return;
    // Repeat the read address; each answer arrives one byte later.
    RC522_SS_PORT &= (uint8_t)~RC522_SS_BIT;
    spi((uint8_t)(0x80 | (FIFODataReg << 1)));
    for (uint8_t i = 0; i < n; i++) p[i] = spi(i + 1 < n ? (uint8_t)(0x80 | (FIFODataReg << 1)) : 0);
    RC522_SS_PORT |= RC522_SS_BIT;
}

static void set_bits(uint8_t reg, uint8_t mask) { write_reg(reg, read_reg(reg) | mask); }
static void clear_bits(uint8_t reg, uint8_t mask) { write_reg(reg, read_reg(reg) & (uint8_t)~mask); }

uint8_t begin() {
    spi_begin();
    // A low RST is hard power-down; a rising edge resets the chip.
    pinMode(PIN_RC522_RST, OUTPUT);
    digitalWrite(PIN_RC522_RST, LOW);
    delayMicroseconds(10);
    digitalWrite(PIN_RC522_RST, HIGH);
    delay(50);  // oscillator start-up (data sheet 8.8.2: ~37.74 us + margin)
    write_reg(CommandReg, CMD_SOFTRESET);
    for (uint8_t i = 0; i < 50 && (read_reg(CommandReg) & 0x10); i++) delay(1);  // PowerDown bit
    write_reg(TxModeReg, 0x00);    // 106 kbit/s, no hardware CRC (we do CRC_A)
    write_reg(RxModeReg, 0x00);
    write_reg(ModWidthReg, 0x26);  // reset value, kept explicit
    // Timer: TAuto starts it when a transmission ends, so a card that does
    // not answer gives TimerIRq. Prescaler 0xA9: 13.56 MHz / 339 = 40 kHz
    // (25 us); reload 39: 40 ticks, 1 ms. ISO 14443-3 fixes the card's
    // frame delay for REQA/WUPA, anticollision, SELECT at about 86-91 us,
    // and the longest answer here (UID CLn + BCC, 45 bits) takes 0.43 ms,
    // so 1 ms is ample; it is also what a poll with no card costs, which
    // lets the sketch poll every 2 ms.
    write_reg(TModeReg, 0x80);
    write_reg(TPrescalerReg, 0xA9);
    write_reg(TReloadRegH, 0);
    write_reg(TReloadRegL, 39);
    write_reg(TxASKReg, 0x40);  // force 100 % ASK modulation (type A)
    write_reg(ModeReg, 0x3D);   // CRC preset 0x6363 (CRC_A), MSB first
    set_bits(TxControlReg, 0x03);  // antenna drivers TX1 and TX2 on
    return read_reg(VersionReg);
}

// One Transceive: sends n bytes (the last one with tx_bits valid bits, 0 =
// all 8), receives into rx (cap bytes) with the first received bit stored
// at bit rx_align of rx[0]. *rx_len gets the byte count, *coll_bit the
// 0-based position of the first collision relative to rx[0] bit 0.
static Status transceive(const uint8_t *tx, uint8_t n, uint8_t tx_bits, uint8_t rx_align,
                         uint8_t *rx, uint8_t cap, uint8_t *rx_len, uint8_t *coll_bit) {
    uint8_t framing = (uint8_t)((rx_align << 4) | tx_bits);
    write_reg(CommandReg, CMD_IDLE);  // stop anything still running
    write_reg(ComIrqReg, 0x7F);       // Set1 = 0: clear every IRQ bit
    write_reg(FIFOLevelReg, 0x80);    // FlushBuffer
    write_fifo(tx, n);
    write_reg(BitFramingReg, framing);
    write_reg(CommandReg, CMD_TRANSCEIVE);
    write_reg(BitFramingReg, (uint8_t)(0x80 | framing));  // StartSend
    // The chip's timer ends a silent exchange after 1 ms; the millis guard
    // only protects against a chip that stopped answering on the bus.
    uint32_t t0 = millis();
    uint8_t irq;
    for (;;) {
        irq = read_reg(ComIrqReg);
        if (irq & (IRQ_RX | IRQ_IDLE)) break;
        if (irq & IRQ_TIMER) return ST_TIMEOUT;
        if (millis() - t0 > 30) return ST_TIMEOUT;
    }
    write_reg(BitFramingReg, framing);  // clear StartSend
    uint8_t err = read_reg(ErrorReg);
    if (err & (ERR_BUFFER_OVFL | ERR_PARITY | ERR_PROTOCOL)) return ST_ERROR;
    uint8_t level = read_reg(FIFOLevelReg) & 0x7F;
    if (level > cap) return ST_ERROR;
    read_fifo(rx, level);
    *rx_len = level;
    if (err & ERR_COLL) {
        uint8_t coll = read_reg(CollReg);
        if (coll & 0x20) return ST_ERROR;  // CollPosNotValid
        uint8_t pos = coll & 0x1F;         // 1..31, 0 means 32
        *coll_bit = (uint8_t)((pos ? pos : 32) - 1);
        return ST_COLLISION;
    }
    return ST_OK;
}

// SELECT or HLTA style frame: data + CRC_A.
static Status transceive_crc(uint8_t *buf, uint8_t n, uint8_t *rx, uint8_t cap, uint8_t *rx_len) {
    uint16_t crc = crc_a(buf, n);
    buf[n] = (uint8_t)crc;  // CRC_A goes LSB first
    buf[n + 1] = (uint8_t)(crc >> 8);
    uint8_t coll;
    return transceive(buf, (uint8_t)(n + 2), 0, 0, rx, cap, rx_len, &coll);
}

// Anticollision loop of one cascade level (ISO/IEC 14443-3 6.5.3): fills
// buf[2..6] with UID CLn (4 bytes) and BCC. With several cards in the field
// it follows the '1' branch at each collision, so one of them is selected.
static bool anticollision(uint8_t sel, uint8_t buf[9]) {
    uint8_t known = 0;  // UID bits already known at this level (0..32)
    memset(buf, 0, 9);
    buf[0] = sel;
    for (uint8_t round = 0; round < 33; round++) {
        uint8_t bytes = known / 8, bits = known % 8;
        buf[1] = (uint8_t)(((2 + bytes) << 4) | bits);  // NVB
        uint8_t rx[6], rx_len = 0, coll = 0;
        Status st = transceive(buf, (uint8_t)(2 + bytes + (bits ? 1 : 0)), bits, bits, rx,
                               sizeof rx, &rx_len, &coll);
        if (st == ST_TIMEOUT || st == ST_ERROR || rx_len == 0) return false;
        // rx[0] holds the rest of the partly known byte from bit `bits` on.
        uint8_t keep = (uint8_t)((1 << bits) - 1);
        for (uint8_t i = 0; i < rx_len && 2 + bytes + i < 7; i++)
            buf[2 + bytes + i] = i == 0 ? (uint8_t)((buf[2 + bytes] & keep) | (rx[0] & ~keep)) : rx[i];
        if (st == ST_OK) {
            if (bytes + rx_len != 5) return false;  // 4 UID bytes + BCC
            return (buf[2] ^ buf[3] ^ buf[4] ^ buf[5]) == buf[6];
        }
        // Collision at bit `coll` of rx, that is bit bytes*8+coll of the
        // UID: keep the bits before it, choose 1 there, ask again.
        uint8_t at = (uint8_t)(bytes * 8 + coll);
        if (at < known || at >= 32) return false;
        buf[2 + at / 8] &= (uint8_t)((1 << (at % 8)) - 1);
        buf[2 + at / 8] |= (uint8_t)(1 << (at % 8));
        known = (uint8_t)(at + 1);
    }
    return false;
}

uint8_t read_uid(uint8_t uid[10]) {
    clear_bits(CollReg, 0x80);  // ValuesAfterColl = 0: bits after a collision read as 0
    uint8_t cmd = CMD_WUPA, atqa[2], n = 0, coll;
    // WUPA is a 7-bit short frame; it also wakes cards we halted.
    if (transceive(&cmd, 1, 7, 0, atqa, sizeof atqa, &n, &coll) != ST_OK || n != 2) return 0;
    uint8_t len = 0;
    static const uint8_t SEL[3] = {SEL_CL1, SEL_CL2, SEL_CL3};
    for (uint8_t level = 0; level < 3; level++) {
        uint8_t buf[9 + 2];
        if (!anticollision(SEL[level], buf)) return 0;
        buf[1] = 0x70;  // NVB: all 40 bits follow, this is a SELECT
        uint8_t sak[3], sak_len = 0;
        if (transceive_crc(buf, 7, sak, sizeof sak, &sak_len) != ST_OK || sak_len != 3) return 0;
        if (crc_a(sak, 1) != (uint16_t)(sak[1] | sak[2] << 8)) return 0;
        bool more = sak[0] & SAK_CASCADE;
        if (more) {
            // Cascade tag + 3 UID bytes; the rest comes at the next level.
            if (buf[2] != CASCADE_TAG) return 0;
            memcpy(uid + len, buf + 3, 3);
            len += 3;
        } else {
            memcpy(uid + len, buf + 2, 4);
            len += 4;
            break;
        }
    }
    if (len != 4 && len != 7 && len != 10) return 0;
    return len;
}

void halt() {
    // HLTA: the card goes quiet (it does not answer; a timeout is success).
    uint8_t hlta[4] = {CMD_HLTA, 0x00}, rx[1], rx_len;
    transceive_crc(hlta, 2, rx, sizeof rx, &rx_len);
}

}  // namespace mfrc522
