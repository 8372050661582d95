/*
 * A model of the NXP MFRC522 on the simavr SPI bus, with one ISO/IEC
 * 14443-3 type A card that the test can put in the field or take away.
 *
 * Only what a UID reader uses is modelled: register reads/writes over SPI
 * (address byte, then data; reads answer one byte later), the FIFO, the
 * Idle / Transceive / CalcCRC / SoftReset commands, StartSend, the timer
 * (TAuto) for "no answer", ComIrqReg/ErrorReg/ControlReg/CollReg results,
 * and a card that follows REQA/WUPA, anticollision and SELECT over cascade
 * levels 1-3 and HLTA. Exchanges take simulated time (bits at 106 kbit/s
 * plus the frame delay), so a driver that reads results too early fails.
 */
#ifndef MFRC522_MODEL_H
#define MFRC522_MODEL_H

#include <stdint.h>

#include "sim_avr.h"
#include "sim_irq.h"

typedef struct mfrc522_model_t {
	struct avr_t *avr;
	avr_irq_t *spi_in;        /* AVR's SPI_IRQ_INPUT: our MISO byte */
	uint8_t regs[64];
	uint8_t fifo[64];
	uint8_t fifo_len;
	uint8_t cmd;
	/* SPI transaction state */
	int selected;             /* NSS low */
	int first;                /* next byte is an address byte */
	int reading;
	uint8_t addr;
	uint8_t miso;             /* answer clocked out with the next byte */
	/* the card */
	int present;
	uint8_t uid[10];
	uint8_t uid_len;
	enum { CARD_IDLE, CARD_READY, CARD_ACTIVE, CARD_HALT } card_state;
	int card_level;           /* cascade level the card is at (0-based) */
	/* a scheduled exchange result */
	uint8_t rx[16];
	int rx_bits;              /* -1: no answer */
	int rx_align;             /* RxAlign when the exchange started */
	/* counters for the log / tests */
	unsigned long exchanges, selects;
	int verbose;
} mfrc522_model_t;

void mfrc522_model_init(struct avr_t *avr, mfrc522_model_t *m);
/* Connect to the AVR: SPI and the NSS (PB2) and RST (PC0) pins. */
void mfrc522_model_connect(mfrc522_model_t *m, avr_irq_t *spi_out, avr_irq_t *spi_in,
                           avr_irq_t *nss_pin, avr_irq_t *rst_pin);
/* Put a card with this UID (4, 7 or 10 bytes) in the field, or none (len 0). */
void mfrc522_model_set_card(mfrc522_model_t *m, const uint8_t *uid, int len);
uint16_t mfrc522_crc_a(const uint8_t *p, int n);

#endif
