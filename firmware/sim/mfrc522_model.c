/*
 * MFRC522 + one type A card, for the simulator. See mfrc522_model.h.
 * Register behaviour from the NXP MFRC522 data sheet; card behaviour from
 * ISO/IEC 14443-3. Written for this project.
 */
#include "mfrc522_model.h"

#include <stdio.h>
#include <string.h>

#include "avr_spi.h"
#include "sim_cycle_timers.h"
#include "sim_time.h"

enum {
	CommandReg = 0x01, ComIEnReg = 0x02, DivIEnReg = 0x03, ComIrqReg = 0x04, DivIrqReg = 0x05,
	ErrorReg = 0x06, Status1Reg = 0x07, Status2Reg = 0x08, FIFODataReg = 0x09,
	FIFOLevelReg = 0x0A, WaterLevelReg = 0x0B, ControlReg = 0x0C, BitFramingReg = 0x0D,
	CollReg = 0x0E, ModeReg = 0x11, TxModeReg = 0x12, RxModeReg = 0x13, TxControlReg = 0x14,
	TxASKReg = 0x15, TxSelReg = 0x16, RxSelReg = 0x17, RxThresholdReg = 0x18, DemodReg = 0x19,
	CRCResultRegH = 0x21, CRCResultRegL = 0x22, ModWidthReg = 0x24, RFCfgReg = 0x26,
	GsNReg = 0x27, CWGsPReg = 0x28, ModGsPReg = 0x29, TModeReg = 0x2A, TPrescalerReg = 0x2B,
	TReloadRegH = 0x2C, TReloadRegL = 0x2D, VersionReg = 0x37,
};
enum { CMD_IDLE = 0x0, CMD_MEM = 0x1, CMD_CALCCRC = 0x3, CMD_TRANSCEIVE = 0xC, CMD_SOFTRESET = 0xF };

#define IRQ_TIMER 0x01
#define IRQ_IDLE 0x10
#define IRQ_RX 0x20
#define IRQ_TX 0x40
#define ERR_COLL 0x08

/* One bit at 106 kbit/s is 128/fc = 9.44 us. */
#define BIT_US(n) ((uint32_t)((n) * 944 / 100))
/* Frame delay time card side, ISO 14443-3: about 86 us (n = 9). */
#define FDT_US 86

uint16_t mfrc522_crc_a(const uint8_t *p, int n)
{
	uint16_t crc = 0x6363;
	while (n--) {
		crc ^= *p++;
		for (int i = 0; i < 8; i++)
			crc = (crc & 1) ? (crc >> 1) ^ 0x8408 : crc >> 1;
	}
	return crc;
}

static void chip_reset(mfrc522_model_t *m)
{
	memset(m->regs, 0, sizeof m->regs);
	/* Reset values (data sheet section 9.3) of what a driver may look at. */
	m->regs[CommandReg] = 0x20;
	m->regs[ComIEnReg] = 0x80;
	m->regs[ComIrqReg] = 0x14;
	m->regs[Status1Reg] = 0x21;
	m->regs[WaterLevelReg] = 0x08;
	m->regs[ControlReg] = 0x10;
	m->regs[CollReg] = 0xA0;
	m->regs[ModeReg] = 0x3F;
	m->regs[TxControlReg] = 0x80;
	m->regs[TxSelReg] = 0x10;
	m->regs[RxSelReg] = 0x84;
	m->regs[RxThresholdReg] = 0x84;
	m->regs[DemodReg] = 0x4D;
	m->regs[CRCResultRegH] = 0xFF;
	m->regs[CRCResultRegL] = 0xFF;
	m->regs[ModWidthReg] = 0x26;
	m->regs[RFCfgReg] = 0x48;
	m->regs[GsNReg] = 0x88;
	m->regs[CWGsPReg] = 0x20;
	m->regs[ModGsPReg] = 0x20;
	m->regs[VersionReg] = 0x92;
	m->fifo_len = 0;
	m->cmd = CMD_IDLE;
	m->rx_bits = -1;
	/* The RF field goes off with the antenna: the card loses power. */
	m->card_state = CARD_IDLE;
	m->card_level = 0;
}

/* ---- the card (ISO/IEC 14443-3 type A) ---------------------------------- */

static int levels(const mfrc522_model_t *m) { return m->uid_len == 4 ? 1 : m->uid_len == 7 ? 2 : 3; }

/* UID CLn (4 bytes) and BCC of cascade level `level` (0-based). */
static void uid_cln(const mfrc522_model_t *m, int level, uint8_t out[5])
{
	int last = level == levels(m) - 1;
	if (last) {
		memcpy(out, m->uid + 3 * level, 4);
	} else {
		out[0] = 0x88; /* cascade tag */
		memcpy(out + 1, m->uid + 3 * level, 3);
	}
	out[4] = out[0] ^ out[1] ^ out[2] ^ out[3];
}

static int get_bit(const uint8_t *p, int i) { return (p[i / 8] >> (i % 8)) & 1; }
static void put_bit(uint8_t *p, int i, int v)
{
	if (v)
		p[i / 8] |= 1 << (i % 8);
	else
		p[i / 8] &= ~(1 << (i % 8));
}

/* The card's answer to a frame of `bits` bits; returns answer bits, -1 for
 * silence. Answer bits go to m->rx starting at bit `align`. */
static int card_answer(mfrc522_model_t *m, const uint8_t *tx, int bits, int align)
{
	memset(m->rx, 0, sizeof m->rx);
	if (!m->present || !(m->regs[TxControlReg] & 0x03)) /* no card, or RF off */
		return -1;
	if (bits == 7) { /* short frame */
		int wupa = tx[0] == 0x52, reqa = tx[0] == 0x26;
		if ((wupa && m->card_state != CARD_ACTIVE) || (reqa && m->card_state == CARD_IDLE) ||
		    ((wupa || reqa) && m->card_state == CARD_READY)) {
			m->card_state = CARD_READY;
			m->card_level = 0;
			/* ATQA: bits 7-6 give the UID size; bit 2: bit frame anticollision */
			m->rx[0] = (uint8_t)((levels(m) - 1) << 6 | 0x04);
			m->rx[1] = 0x00;
			return 16;
		}
		return -1;
	}
	int nbytes = (bits + 7) / 8;
	if (nbytes >= 2 && (tx[0] == 0x93 || tx[0] == 0x95 || tx[0] == 0x97)) {
		int level = (tx[0] - 0x93) / 2;
		if (m->card_state != CARD_READY || level != m->card_level || level >= levels(m))
			return -1;
		uint8_t cln[5];
		uid_cln(m, level, cln);
		int nvb_bytes = tx[1] >> 4, nvb_bits = tx[1] & 0x0F;
		if (tx[1] == 0x70 && bits == 9 * 8) { /* SELECT */
			uint16_t crc = mfrc522_crc_a(tx, 7);
			if (tx[7] != (crc & 0xFF) || tx[8] != (crc >> 8) || memcmp(tx + 2, cln, 5))
				return -1;
			int last = level == levels(m) - 1;
			uint8_t sak = last ? (m->uid_len == 4 ? 0x08 : 0x00) : 0x04;
			if (last)
				m->card_state = CARD_ACTIVE;
			else
				m->card_level++;
			m->selects++;
			m->rx[0] = sak;
			crc = mfrc522_crc_a(m->rx, 1);
			m->rx[1] = crc & 0xFF;
			m->rx[2] = crc >> 8;
			return 24; /* with align 0 */
		}
		/* ANTICOLLISION: NVB says how many bits of UID CLn follow. */
		int known = (nvb_bytes - 2) * 8 + nvb_bits;
		if (nvb_bytes < 2 || known < 0 || known >= 40 || bits != 16 + known)
			return -1;
		for (int i = 0; i < known; i++)
			if (get_bit(tx + 2, i) != get_bit(cln, i))
				return -1; /* not us */
		int n = 0;
		for (int i = known; i < 40; i++, n++)
			put_bit(m->rx, align + n, get_bit(cln, i));
		return n;
	}
	if (nbytes == 4 && tx[0] == 0x50 && tx[1] == 0x00 && bits == 32) { /* HLTA */
		uint16_t crc = mfrc522_crc_a(tx, 2);
		if (tx[2] == (crc & 0xFF) && tx[3] == (crc >> 8) && m->card_state == CARD_ACTIVE)
			m->card_state = CARD_HALT;
		return -1;
	}
	/* Anything else: a card not yet active falls back to IDLE/HALT. */
	if (m->card_state == CARD_READY)
		m->card_state = CARD_IDLE;
	return -1;
}

/* ---- exchanges ---------------------------------------------------------- */

static avr_cycle_count_t exchange_done(struct avr_t *avr, avr_cycle_count_t when, void *param)
{
	(void)avr;
	(void)when;
	mfrc522_model_t *m = param;
	if (m->cmd != CMD_TRANSCEIVE)
		return 0; /* cancelled (Idle written meanwhile) */
	if (m->rx_bits < 0) {
		m->regs[ComIrqReg] |= IRQ_TIMER;
		return 0;
	}
	int total = m->rx_align + m->rx_bits;
	int n = (total + 7) / 8;
	memcpy(m->fifo, m->rx, n);
	m->fifo_len = n;
	m->regs[ErrorReg] = 0;
	m->regs[ControlReg] = (m->regs[ControlReg] & ~7) | (total % 8);
	m->regs[CollReg] = (m->regs[CollReg] & 0x80) | 0x20; /* CollPosNotValid: no collision */
	m->regs[ComIrqReg] |= IRQ_RX;
	return 0;
}

static uint32_t timer_us(const mfrc522_model_t *m)
{
	if (!(m->regs[TModeReg] & 0x80))
		return 0; /* no TAuto: the timer does not run, no TimerIRq */
	uint32_t pre = ((m->regs[TModeReg] & 0x0F) << 8) | m->regs[TPrescalerReg];
	uint32_t reload = (m->regs[TReloadRegH] << 8) | m->regs[TReloadRegL];
	/* f_timer = 13.56 MHz / (2 * TPrescaler + 1) */
	return (uint32_t)((uint64_t)(reload + 1) * (2 * pre + 1) * 100 / 1356);
}

static void start_send(mfrc522_model_t *m)
{
	int last_bits = m->regs[BitFramingReg] & 7;
	int align = (m->regs[BitFramingReg] >> 4) & 7;
	int n = m->fifo_len;
	int bits = n ? (n - 1) * 8 + (last_bits ? last_bits : 8) : 0;
	uint8_t tx[64];
	memcpy(tx, m->fifo, n);
	m->fifo_len = 0;
	m->exchanges++;
	m->rx_align = align;
	m->rx_bits = card_answer(m, tx, bits, align);
	m->regs[ComIrqReg] |= IRQ_TX;
	uint32_t us = BIT_US(bits + bits / 8) + FDT_US; /* a parity bit per byte */
	if (m->rx_bits >= 0) {
		us += BIT_US(m->rx_bits + m->rx_bits / 8) + 20;
	} else {
		uint32_t t = timer_us(m);
		if (!t)
			return; /* nothing will ever come */
		us = BIT_US(bits + bits / 8) + t;
	}
	if (m->verbose)
		fprintf(stderr, "mfrc522: tx %d bits [%02X %02X ...] -> %d bits\n", bits, tx[0],
		        n > 1 ? tx[1] : 0, m->rx_bits);
	avr_cycle_timer_register_usec(m->avr, us, exchange_done, m);
}

/* ---- registers ---------------------------------------------------------- */

static uint8_t reg_read(mfrc522_model_t *m, uint8_t a)
{
	switch (a) {
	case FIFODataReg: {
		if (!m->fifo_len)
			return 0;
		uint8_t v = m->fifo[0];
		memmove(m->fifo, m->fifo + 1, --m->fifo_len);
		return v;
	}
	case FIFOLevelReg:
		return m->fifo_len;
	case CommandReg:
		return (m->regs[CommandReg] & 0x30) | m->cmd;
	default:
		return m->regs[a];
	}
}

static void reg_write(mfrc522_model_t *m, uint8_t a, uint8_t v)
{
	switch (a) {
	case CommandReg:
		m->regs[CommandReg] = v & 0x30;
		m->cmd = v & 0x0F;
		if (m->cmd == CMD_SOFTRESET) {
			chip_reset(m);
			m->regs[CommandReg] = 0x20; /* RcvOff, not powered down */
		} else if (m->cmd == CMD_CALCCRC) {
			uint16_t crc = mfrc522_crc_a(m->fifo, m->fifo_len);
			m->regs[CRCResultRegH] = crc >> 8;
			m->regs[CRCResultRegL] = crc & 0xFF;
			m->regs[DivIrqReg] |= 0x04;
			m->fifo_len = 0;
		} else if (m->cmd == CMD_IDLE) {
			avr_cycle_timer_cancel(m->avr, exchange_done, m);
		}
		break;
	case ComIrqReg:
	case DivIrqReg:
		/* bit 7 Set1/Set2: 1 sets the marked bits, 0 clears them */
		if (v & 0x80)
			m->regs[a] |= v & 0x7F;
		else
			m->regs[a] &= ~(v & 0x7F);
		break;
	case FIFODataReg:
		if (m->fifo_len < sizeof m->fifo)
			m->fifo[m->fifo_len++] = v;
		else
			m->regs[ErrorReg] |= 0x10; /* BufferOvfl */
		break;
	case FIFOLevelReg:
		if (v & 0x80) {
			m->fifo_len = 0;
			m->regs[ErrorReg] &= ~0x10;
		}
		break;
	case BitFramingReg:
		m->regs[a] = v & 0x7F; /* StartSend reads back 0 once started */
		if ((v & 0x80) && m->cmd == CMD_TRANSCEIVE)
			start_send(m);
		break;
	case VersionReg:
		break; /* read-only */
	default:
		m->regs[a] = v;
		break;
	}
}

/* ---- SPI and pins ------------------------------------------------------- */

static void spi_byte(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq;
	mfrc522_model_t *m = param;
	uint8_t out = m->miso, b = value & 0xFF;
	m->miso = 0;
	if (m->selected) {
		if (m->first) {
			m->first = 0;
			m->reading = b & 0x80;
			m->addr = (b >> 1) & 0x3F;
			if (m->reading)
				m->miso = reg_read(m, m->addr);
		} else if (m->reading) {
			/* each further byte names the next register; a 0x00 ends */
			if (b & 0x80) {
				m->addr = (b >> 1) & 0x3F;
				m->miso = reg_read(m, m->addr);
			}
		} else {
			reg_write(m, m->addr, b);
		}
	} else {
		out = 0xFF; /* nobody drives MISO */
	}
	avr_raise_irq(m->spi_in, out);
}

static void nss_changed(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq;
	mfrc522_model_t *m = param;
	int sel = !value;
	if (sel && !m->selected) {
		m->first = 1;
		m->miso = 0;
	}
	m->selected = sel;
}

static void rst_changed(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq;
	mfrc522_model_t *m = param;
	if (!value) { /* hard power-down: everything back to reset values */
		avr_cycle_timer_cancel(m->avr, exchange_done, m);
		chip_reset(m);
	}
}

void mfrc522_model_init(struct avr_t *avr, mfrc522_model_t *m)
{
	memset(m, 0, sizeof *m);
	m->avr = avr;
	chip_reset(m);
}

void mfrc522_model_connect(mfrc522_model_t *m, avr_irq_t *spi_out, avr_irq_t *spi_in,
                           avr_irq_t *nss_pin, avr_irq_t *rst_pin)
{
	m->spi_in = spi_in;
	avr_irq_register_notify(spi_out, spi_byte, m);
	avr_irq_register_notify(nss_pin, nss_changed, m);
	avr_irq_register_notify(rst_pin, rst_changed, m);
}

void mfrc522_model_set_card(mfrc522_model_t *m, const uint8_t *uid, int len)
{
	m->present = len > 0;
	if (len > 0) {
		memcpy(m->uid, uid, len);
		m->uid_len = len;
	}
	/* A card entering the field powers up in IDLE. */
	m->card_state = CARD_IDLE;
	m->card_level = 0;
}
