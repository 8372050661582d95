/*
 * clock_sim: runs the clock_reader firmware (an ATmega328P ELF) in simavr,
 * in real time, with the board around it:
 *   - the UART bridged to a pseudo-terminal (raw, 115200 is nominal);
 *   - an MFRC522 with one card that stdin commands put and take away;
 *   - the HD44780 16x2 LCD (simavr's part), whose screen is reported;
 *   - the LEDs and buzzer reported, the role jumper set from the command line.
 *
 * usage: clock_sim [--role in|out] [--eeprom FILE] [--seed N] [--trace] [--verbose] FIRMWARE.elf
 *
 * stdout, one event per line, times in simulated milliseconds:
 *   PTY <path>                  the serial port to open (printed first)
 *   LCD <ms> |<row 0>|<row 1>|  the screen, each row exactly 16 characters,
 *                               printed once it has been stable for 2 ms; <ms>
 *                               is the write (E falling) that completed it
 *   LED <ms> green|red 0|1      BUZZER <ms> 0|1
 *   CARD <ms> <UID hex>|none    a card command took effect
 *   ROLE <ms> in|out            RESET <ms>        TIME <ms>
 *   BYE <ms> stack <bytes>      at exit, the deepest the stack went since start
 * with --trace also (the hops of a tap, for bench/tap_screen.py):
 *   TX <ms> <ms last> <n>       a burst of n bytes from the AVR's UART (first
 *                               and last byte), as it goes to the PTY
 *   RX <ms> <n>                 n bytes from the host handed to the UART
 *   RXB <ms> <hex>              (CLOCK_SIM_RXB=1 too) the firmware read a
 *                               byte from UDR0: the receive side's timing
 *   SPI <ms> bytes <n> retimed <n>   at exit: SPI bytes, and how many were
 *                               moved to the board's SPI clock (all, normally)
 * stdin commands, one per line:
 *   card <UID hex: 4, 7 or 10 bytes> | nocard | role in|out | reset | time | quit
 *   noise <n>       n random bytes (zeros included) into the AVR's UART, as
 *                   if the line from the host were noisy
 *   hostnoise <n>   n random bytes towards the host (the gateway), as if the
 *                   line from the reader were noisy
 * SIGTERM/SIGINT or EOF on stdin end it; --eeprom FILE is loaded at start
 * (if it exists) and saved at the end, so the hardware id and the boot
 * counter survive restarts like on a board. CLOCK_SIM_FREE=1 in the
 * environment runs as fast as it can instead of in real time (profiling).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "avr_adc.h"
#include "avr_eeprom.h"
#include "avr_extint.h"
#include "avr_ioport.h"
#include "avr_spi.h"
#include "avr_uart.h"
#include "hd44780.h"
#include "sim_avr.h"
#include "sim_elf.h"
#include "sim_time.h"

#include "mfrc522_model.h"

#define FREQ 16000000UL
#define EEPROM_SIZE 1024

static avr_t *avr;
static hd44780_t lcd;
static mfrc522_model_t rc522;
static FILE *ev;  /* our event stream: the real stdout */
static int pty_master = -1, pty_slave = -1;
static volatile sig_atomic_t stop;
static int verbose;
static int trace; /* --trace: timestamps of the hops of a tap (see usage) */
static unsigned long spi_retimed, spi_bytes;
static uint64_t tx_first, tx_last; /* cycles of the first and last byte of a burst */

/* AVR -> host bytes not yet written to the PTY */
static uint8_t out_buf[8192];
static size_t out_len;
static unsigned long out_dropped;
/* host -> AVR bytes not yet given to the UART */
static uint8_t in_buf[256];
static size_t in_len, in_pos;
static int uart_xon = 1;
/* noise waiting to go into the AVR's UART (the "noise" command) */
static uint8_t noise_buf[4096];
static size_t noise_len, noise_pos;
static avr_irq_t *uart_in;

static uint8_t lcd_seen[32], lcd_printed[32];
static uint64_t lcd_changed_at;
static uint64_t lcd_last_write; /* cycle of the last falling edge of E */

static void lcd_e_hook(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq;
	(void)param;
	if (!value)
		lcd_last_write = avr->cycle; /* the HD44780 latches on E falling */
}
static int lcd_pending;

/* Stack high-water mark: RAM above .data/.bss is painted at start; at exit
 * the lowest byte that changed tells how deep the stack went. */
#define RAM_START 0x100
#define RAM_END 0x8FF
#define PAINT 0xA5
static uint32_t ram_free_start;

static void paint_ram(void)
{
	for (uint32_t a = ram_free_start; a <= RAM_END; a++)
		avr->data[a] = PAINT;
}

static unsigned stack_used(void)
{
	uint32_t a = ram_free_start;
	while (a <= RAM_END && avr->data[a] == PAINT)
		a++;
	return RAM_END + 1 - a;
}

static double sim_ms(void) { return (double)avr->cycle * 1000.0 / FREQ; }

/* ---- UART <-> PTY ------------------------------------------------------- */

static void uart_out_hook(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq;
	(void)param;
	if (trace) {
		if (out_len == 0)
			tx_first = avr->cycle;
		tx_last = avr->cycle;
	}
	if (out_len < sizeof out_buf)
		out_buf[out_len++] = (uint8_t)value;
	else
		out_dropped++;
}

static void xon_hook(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq;
	(void)param;
	(void)value;
	uart_xon = 1;
}

static void xoff_hook(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq;
	(void)param;
	if (value)
		uart_xon = 0;
}

static void open_pty(void)
{
	struct termios t;
	if (openpty(&pty_master, &pty_slave, NULL, NULL, NULL) < 0) {
		perror("openpty");
		exit(1);
	}
	/* Raw on the slave (a serial port carries binary frames), and keep the
	 * slave open ourselves so a test closing and reopening the port never
	 * leaves the master without a peer (EIO). */
	tcgetattr(pty_slave, &t);
	cfmakeraw(&t);
	cfsetspeed(&t, B115200);
	tcsetattr(pty_slave, TCSANOW, &t);
	fcntl(pty_master, F_SETFL, fcntl(pty_master, F_GETFL) | O_NONBLOCK);
}

static void uart_word_fix(void);

static void pump_uart(void)
{
	uart_word_fix();
	/* AVR -> host */
	if (trace && out_len) {
		fprintf(ev, "TX %.3f %.3f %zu\n", (double)tx_first * 1000.0 / FREQ,
		        (double)tx_last * 1000.0 / FREQ, out_len);
		fflush(ev);
	}
	if (out_len) {
		ssize_t w = write(pty_master, out_buf, out_len);
		if (w > 0) {
			memmove(out_buf, out_buf + w, out_len - w);
			out_len -= w;
		}
	}
	/* host -> AVR, only while the UART's input FIFO has room (XON); the
	 * UART model then delivers them at the configured baud rate. Injected
	 * noise goes first, as if it had been on the line before. */
	while (uart_xon && noise_pos < noise_len)
		avr_raise_irq(uart_in, noise_buf[noise_pos++]);
	if (noise_pos == noise_len)
		noise_pos = noise_len = 0;
	else
		return;
	if (in_pos == in_len) {
		ssize_t r = read(pty_master, in_buf, sizeof in_buf);
		in_pos = 0;
		in_len = r > 0 ? (size_t)r : 0;
		if (trace && in_len) {
			fprintf(ev, "RX %.3f %zu\n", sim_ms(), in_len); /* host bytes to the UART */
			fflush(ev);
		}
	}
	while (uart_xon && in_pos < in_len)
		avr_raise_irq(uart_in, in_buf[in_pos++]);
}

/* simavr 1.6 counts a parity bit in every UART word whether parity is on
 * or not (1 + 8 + 1 + 1 = 11 bits at 8N1), so each byte takes 94 us at
 * 115200 instead of the wire's 87 us, both ways. Each slice we set the
 * byte time from the registers (UBRR0, U2X0, UCSZ0, UPM0, USBS0). */
#define UCSR0A_ADDR 0xC0
#define UCSR0C_ADDR 0xC2
#define UBRR0L_ADDR 0xC4
#define UBRR0H_ADDR 0xC5
static avr_uart_t *uart0;

static void uart_word_fix(void)
{
	if (!uart0)
		return;
	uint8_t a = avr->data[UCSR0A_ADDR], c = avr->data[UCSR0C_ADDR];
	uint32_t ubrr = avr->data[UBRR0L_ADDR] | ((avr->data[UBRR0H_ADDR] & 0x0F) << 8);
	uint32_t bit = (ubrr + 1) * ((a & 0x02) ? 8 : 16);
	uint32_t data = 5 + ((c >> 1) & 3), parity = ((c >> 4) & 3) ? 1 : 0;
	uint32_t stop = (c & 0x08) ? 2 : 1;
	uart0->cycles_per_byte = bit * (1 + data + parity + stop);
}

/* With --trace: the cycle at which the firmware reads each received byte
 * out of UDR0 (simavr's own read hook, wrapped), so the receive side's
 * timing can be compared with the wire's. */
#define UDR0_ADDR 0xC6
static avr_io_read_t udr_read_orig;
static void *udr_read_param;
static int rxb_log; /* CLOCK_SIM_RXB=1 with --trace: one RXB line per byte read */

static uint8_t udr_read_stamp(struct avr_t *a, avr_io_addr_t addr, void *param)
{
	(void)param;
	uint8_t v = udr_read_orig(a, addr, udr_read_param);
	if (rxb_log)
		fprintf(ev, "RXB %.3f %02x\n", (double)a->cycle * 1000.0 / FREQ, v);
	return v;
}

static void udr_stamp_init(void)
{
	rxb_log = getenv("CLOCK_SIM_RXB") != NULL;
	udr_read_orig = avr->io[AVR_DATA_TO_IO(UDR0_ADDR)].r.c;
	udr_read_param = avr->io[AVR_DATA_TO_IO(UDR0_ADDR)].r.param;
	/* avr_register_io_read refuses a second reader: swap the slot. */
	if (udr_read_orig)
		avr->io[AVR_DATA_TO_IO(UDR0_ADDR)].r.c = udr_read_stamp;
}

/* ---- SPI at the board's clock ------------------------------------------- */

/* simavr 1.6 ends every SPI byte 100 us after SPDR is written, whatever
 * the clock divider: 50x the board, where the driver's fosc/4 (4 MHz) moves
 * a byte in 8 SCK = 32 CPU cycles (2 us). A card read is ~100 SPI bytes, so
 * that would add ~10 ms of simulated time no board has. After each SPDR
 * write we move simavr's own "byte done" timer (found by its param, the
 * SPI module) to the byte time the SPCR/SPSR divider gives. */
#define SPDR_ADDR 0x4E
#define SPCR_ADDR 0x4C
#define SPSR_ADDR 0x4D
static avr_io_t *spi_io;
static avr_cycle_count_t spi_written_at;

static avr_cycle_count_t spi_retime(struct avr_t *a, avr_cycle_count_t when, void *param)
{
	(void)when;
	(void)param;
	for (avr_cycle_timer_slot_p t = a->cycle_timers.timer; t; t = t->next) {
		if (t->param != spi_io)
			continue;
		/* SPR1:0 and SPI2X: fosc/4, /16, /64, /128, doubled by SPI2X */
		static const unsigned div[4] = {4, 16, 64, 128};
		unsigned d = div[a->data[SPCR_ADDR] & 3];
		if (a->data[SPSR_ADDR] & 1)
			d /= 2;
		avr_cycle_count_t done = spi_written_at + 8 * d;
		avr_cycle_timer_t fn = t->timer;
		avr_cycle_timer_cancel(a, fn, spi_io);
		avr_cycle_timer_register(a, done > a->cycle ? done - a->cycle : 1, fn, spi_io);
		spi_retimed++;
		break;
	}
	return 0;
}

static void spdr_write(struct avr_t *a, avr_io_addr_t addr, uint8_t v, void *param)
{
	(void)addr;
	(void)v;
	(void)param;
	/* simavr's SPI module registers its timer in its own write hook; look
	 * for it one cycle later, when it is surely there. */
	spi_written_at = a->cycle;
	spi_bytes++;
	avr_cycle_timer_register(a, 1, spi_retime, NULL);
}

static void spi_fast_init(void)
{
	for (avr_io_t *io = avr->io_port; io; io = io->next)
		if (io->kind && !strcmp(io->kind, "spi"))
			spi_io = io;
	if (spi_io)
		avr_register_io_write(avr, SPDR_ADDR, spdr_write, NULL);
	else
		fprintf(stderr, "clock_sim: no SPI module found; SPI bytes take simavr's 100 us\n");
}

/* ---- LCD, LEDs, buzzer -------------------------------------------------- */

static void lcd_poll(void)
{
	uint8_t now[32];
	memcpy(now, lcd.vram + 0x00, 16);
	memcpy(now + 16, lcd.vram + 0x40, 16);
	for (int i = 0; i < 32; i++)
		if (now[i] < 0x20 || now[i] > 0x7E)
			now[i] = '?';
	if (memcmp(now, lcd_seen, 32)) {
		memcpy(lcd_seen, now, 32);
		/* The write that changed it, not the end of this 1 ms slice. */
		lcd_changed_at = lcd_last_write ? lcd_last_write : avr->cycle;
		lcd_pending = 1;
	}
	/* Report a screen once it has been stable for 2 ms, so a redraw in
	 * progress is not reported as a screen of its own. */
	if (lcd_pending && avr->cycle - lcd_changed_at >= 2 * FREQ / 1000) {
		lcd_pending = 0;
		if (memcmp(lcd_seen, lcd_printed, 32)) {
			memcpy(lcd_printed, lcd_seen, 32);
			fprintf(ev, "LCD %.3f |%.16s|%.16s|\n", (double)lcd_changed_at * 1000.0 / FREQ,
			        (char *)lcd_seen, (char *)lcd_seen + 16);
			fflush(ev);
		}
	}
}

struct pin_watch {
	const char *fmt;
	int last;
};
static struct pin_watch w_green = {"LED %.3f green %d", -1}, w_red = {"LED %.3f red %d", -1},
                        w_buzz = {"BUZZER %.3f %d", -1};

static void pin_hook(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq;
	struct pin_watch *w = param;
	int v = value ? 1 : 0;
	if (v == w->last)
		return;
	w->last = v;
	fprintf(ev, w->fmt, sim_ms(), v);
	fputc('\n', ev);
	fflush(ev);
}

/* ---- role jumper and ADC noise ------------------------------------------ */

static int role_out;

static void set_role(int out)
{
	role_out = out;
	/* The jumper is an external level on PC2 (A2): open = the pull-up
	 * reads 1 (in), to GND = 0 (out). SET_EXTERNAL keeps it applied
	 * whatever the firmware writes to PORTC. */
	avr_ioport_external_t e = {.name = 'C', .mask = 1 << 2, .value = out ? 0 : 1 << 2};
	avr_ioctl(avr, AVR_IOCTL_IOPORT_SET_EXTERNAL('C'), &e);
	avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('C'), 2), out ? 0 : 1);
}

static unsigned long rng_state;
static unsigned rng(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)(rng_state >> 33);
}

static void adc_trigger(struct avr_irq_t *irq, uint32_t value, void *param)
{
	(void)irq;
	(void)value;
	(void)param;
	/* A3 is unconnected on the board: feed it noise, so each simulated
	 * board (each --seed) generates its own hardware id. */
	avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC3), 1500 + rng() % 2000);
}

/* ---- EEPROM ------------------------------------------------------------- */

static const char *eeprom_path;

static void eeprom_load(void)
{
	uint8_t buf[EEPROM_SIZE];
	memset(buf, 0xFF, sizeof buf); /* erased EEPROM */
	if (eeprom_path) {
		FILE *f = fopen(eeprom_path, "rb");
		if (f) {
			size_t n = fread(buf, 1, sizeof buf, f);
			(void)n;
			fclose(f);
		}
	}
	avr_eeprom_desc_t d = {.ee = buf, .offset = 0, .size = EEPROM_SIZE};
	avr_ioctl(avr, AVR_IOCTL_EEPROM_SET, &d);
}

static void eeprom_save(void)
{
	if (!eeprom_path)
		return;
	uint8_t buf[EEPROM_SIZE];
	avr_eeprom_desc_t d = {.ee = buf, .offset = 0, .size = EEPROM_SIZE};
	avr_ioctl(avr, AVR_IOCTL_EEPROM_GET, &d);
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", eeprom_path);
	FILE *f = fopen(tmp, "wb");
	if (!f || fwrite(buf, 1, sizeof buf, f) != sizeof buf || fclose(f) != 0) {
		perror(eeprom_path);
		return;
	}
	rename(tmp, eeprom_path);
}

/* ---- commands ----------------------------------------------------------- */

static char cmd_buf[512];
static size_t cmd_len;

static int parse_hex(const char *s, uint8_t *out, int max)
{
	int n = 0;
	while (*s && *s != '\n' && *s != ' ') {
		unsigned v;
		if (n >= max || sscanf(s, "%2x", &v) != 1 || !s[1])
			return -1;
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

static void command(char *line)
{
	char *nl = strchr(line, '\n');
	if (nl)
		*nl = 0;
	if (!strncmp(line, "card ", 5)) {
		uint8_t uid[10];
		int n = parse_hex(line + 5, uid, 10);
		if (n != 4 && n != 7 && n != 10) {
			fprintf(ev, "ERROR bad UID '%s' (4, 7 or 10 hex bytes)\n", line + 5);
			fflush(ev);
			return;
		}
		mfrc522_model_set_card(&rc522, uid, n);
		fprintf(ev, "CARD %.3f ", sim_ms());
		for (int i = 0; i < n; i++)
			fprintf(ev, "%02X", uid[i]);
		fputc('\n', ev);
		fflush(ev);
	} else if (!strcmp(line, "nocard")) {
		mfrc522_model_set_card(&rc522, NULL, 0);
		fprintf(ev, "CARD %.3f none\n", sim_ms());
		fflush(ev);
	} else if (!strcmp(line, "role in") || !strcmp(line, "role out")) {
		set_role(line[5] == 'o');
		fprintf(ev, "ROLE %.3f %s\n", sim_ms(), role_out ? "out" : "in");
		fflush(ev);
	} else if (!strcmp(line, "reset")) {
		/* What a DTR pulse does to an Uno: the AVR restarts; the LCD and
		 * the card reader keep power (the firmware re-initialises them). */
		avr_reset(avr);
		set_role(role_out);
		paint_ram(); /* the real chip keeps RAM over a reset; the stack
		              * mark is per run of the firmware anyway */
		fprintf(ev, "RESET %.3f\n", sim_ms());
		fflush(ev);
	} else if (!strncmp(line, "noise ", 6) || !strncmp(line, "hostnoise ", 10)) {
		int to_host = line[0] == 'h';
		long n = strtol(line + (to_host ? 10 : 6), NULL, 10);
		if (n < 0 || n > 4096)
			n = 0;
		for (long i = 0; i < n; i++) {
			uint8_t b = (uint8_t)rng();
			if (to_host) {
				if (out_len < sizeof out_buf)
					out_buf[out_len++] = b;
			} else {
				if (noise_len < sizeof noise_buf)
					noise_buf[noise_len++] = b;
			}
		}
		fprintf(ev, "NOISE %.3f %s %ld\n", sim_ms(), to_host ? "host" : "avr", n);
		fflush(ev);
	} else if (!strcmp(line, "time")) {
		fprintf(ev, "TIME %.3f\n", sim_ms());
		fflush(ev);
	} else if (!strcmp(line, "quit")) {
		stop = 1;
	} else if (line[0]) {
		fprintf(ev, "ERROR unknown command '%s'\n", line);
		fflush(ev);
	}
}

static void read_commands(void)
{
	for (;;) {
		ssize_t r = read(0, cmd_buf + cmd_len, sizeof cmd_buf - 1 - cmd_len);
		if (r == 0) {
			stop = 1; /* EOF: the test is gone */
			return;
		}
		if (r < 0)
			return;
		cmd_len += r;
		cmd_buf[cmd_len] = 0;
		char *nl;
		while ((nl = memchr(cmd_buf, '\n', cmd_len))) {
			*nl = 0;
			command(cmd_buf);
			size_t used = nl + 1 - cmd_buf;
			memmove(cmd_buf, nl + 1, cmd_len - used);
			cmd_len -= used;
		}
		if (cmd_len == sizeof cmd_buf - 1)
			cmd_len = 0; /* an absurd line: drop it */
	}
}

/* ---- main loop ---------------------------------------------------------- */

#define MAX_CATCH_UP_NS 20000000ULL /* 20 ms */

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* simavr's default sleep callback usleep()s for the time the AVR sleeps;
 * we pace simulated time against the wall clock ourselves (main loop). */
static void no_sleep(avr_t *a, avr_cycle_count_t how_long)
{
	(void)a;
	(void)how_long;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: clock_sim [--role in|out] [--eeprom FILE] [--seed N] [--trace] [--verbose] "
	                "FIRMWARE.elf\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *elf = NULL;
	int role = 0;
	rng_state = (unsigned long)getpid() ^ (unsigned long)wall_ns();
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--role") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "out"))
				role = 1;
			else if (strcmp(argv[i], "in"))
				usage();
		} else if (!strcmp(argv[i], "--eeprom") && i + 1 < argc) {
			eeprom_path = argv[++i];
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			rng_state = strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--trace")) {
			trace = 1;
		} else if (!strcmp(argv[i], "--verbose")) {
			verbose = 1;
		} else if (argv[i][0] == '-' || elf) {
			usage();
		} else {
			elf = argv[i];
		}
	}
	if (!elf)
		usage();

	/* simavr and its parts print chatter on stdout; our events must stay
	 * parseable, so they get the real stdout and the chatter goes away. */
	int evfd = dup(1);
	ev = fdopen(evfd, "w");
	if (!freopen(verbose ? "/dev/stderr" : "/dev/null", "w", stdout))
		return 1;

	elf_firmware_t fw;
	memset(&fw, 0, sizeof fw);
	if (elf_read_firmware(elf, &fw)) {
		fprintf(stderr, "clock_sim: cannot read %s\n", elf);
		return 1;
	}
	avr = avr_make_mcu_by_name("atmega328p");
	if (!avr) {
		fprintf(stderr, "clock_sim: no atmega328p core in simavr\n");
		return 1;
	}
	avr_init(avr);
	avr->frequency = FREQ;
	avr->sleep = no_sleep;
	avr->avcc = avr->aref = 5000;
	avr->log = verbose ? LOG_TRACE : LOG_ERROR;
	avr_load_firmware(avr, &fw);
	ram_free_start = RAM_START + fw.datasize + fw.bsssize;
	paint_ram();
	/* The LEDs sit on PD2/PD3, which are also INT0/INT1. simavr models a
	 * low-level-triggered INT by polling the pin on every cycle while it is
	 * low, even with the interrupt disabled: with an LED off that would
	 * triple our CPU use. The firmware uses no external interrupts, so
	 * treat them as edge-triggered (simavr's documented switch). */
	avr_extint_set_strict_lvl_trig(avr, 0, 0);
	avr_extint_set_strict_lvl_trig(avr, 1, 0);
	eeprom_load();

	/* UART0: no stdio echo, no usleep in the status polling loop. */
	uint32_t flags = 0;
	avr_ioctl(avr, AVR_IOCTL_UART_GET_FLAGS('0'), &flags);
	flags &= ~(AVR_UART_FLAG_STDIO | AVR_UART_FLAG_POLL_SLEEP);
	avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
	for (avr_io_t *io = avr->io_port; io; io = io->next)
		if (io->kind && !strcmp(io->kind, "uart") && !uart0)
			uart0 = (avr_uart_t *)io; /* io is its first member */
	uart_in = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT),
	                        uart_out_hook, NULL);
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XON),
	                        xon_hook, NULL);
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XOFF),
	                        xoff_hook, NULL);

	if (trace)
		udr_stamp_init();

	/* LCD: D4..D7 on PD4..PD7, RS on PB0, E on PB1, R/W on GND. */
	hd44780_init(avr, &lcd, 16, 2);
	for (int i = 0; i < 4; i++)
		avr_connect_irq(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), 4 + i),
		                lcd.irq + IRQ_HD44780_D4 + i);
	avr_connect_irq(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('B'), 0), lcd.irq + IRQ_HD44780_RS);
	avr_connect_irq(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('B'), 1), lcd.irq + IRQ_HD44780_E);
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('B'), 1), lcd_e_hook, NULL);
	memset(lcd_printed, 0, sizeof lcd_printed);

	/* MFRC522: SPI, NSS on PB2 (D10), RST on PC0 (A0). */
	spi_fast_init();
	mfrc522_model_init(avr, &rc522);
	rc522.verbose = verbose;
	mfrc522_model_connect(&rc522, avr_io_getirq(avr, AVR_IOCTL_SPI_GETIRQ(0), SPI_IRQ_OUTPUT),
	                      avr_io_getirq(avr, AVR_IOCTL_SPI_GETIRQ(0), SPI_IRQ_INPUT),
	                      avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('B'), 2),
	                      avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('C'), 0));

	/* LEDs on PD2/PD3, buzzer on PC1. */
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), 2), pin_hook, &w_green);
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), 3), pin_hook, &w_red);
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('C'), 1), pin_hook, &w_buzz);

	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_OUT_TRIGGER),
	                        adc_trigger, NULL);
	set_role(role);

	open_pty();
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	fprintf(ev, "PTY %s\n", ttyname(pty_slave));
	fflush(ev);

	/* Run in slices of 250 us of simulated time; between slices move serial
	 * bytes, read commands, look at the LCD, and sleep (in poll(), so input
	 * wakes us at once) while simulated time is ahead of wall time. */
	/* 250 us slices: the PTY pump's granularity (bytes cross between
	 * slices), a quarter of a frame's wire time; ~4000 wake-ups a second. */
	const uint64_t slice = FREQ / 4000;
	uint64_t next = avr->cycle + slice;
	uint64_t t0 = wall_ns();
	int state = cpu_Running;
	int free_run = getenv("CLOCK_SIM_FREE") != NULL;
	while (!stop) {
		while (avr->cycle < next) {
			state = avr_run(avr);
			if (state == cpu_Done || state == cpu_Crashed)
				break;
		}
		if (state == cpu_Done || state == cpu_Crashed) {
			fprintf(stderr, "clock_sim: firmware stopped (state %d) at %.3f ms\n", state, sim_ms());
			break;
		}
		next += slice;
		pump_uart();
		lcd_poll();
		uint64_t sim_ns = avr->cycle * 1000ULL / (FREQ / 1000000ULL);
		uint64_t wall = wall_ns() - t0;
		/* Fallen behind (a loaded machine did not schedule us)? Catch up at most
		 * MAX_CATCH_UP_NS: running flat out to recover a long stall would squeeze
		 * seconds of firmware time into a burst, and the host would see a 1 s timer
		 * fire 0.2 s after the last. Skipping the rest keeps every interval the
		 * host measures at least as long as the firmware's own: only stretched,
		 * never shrunk. */
		if (!free_run && wall > sim_ns + MAX_CATCH_UP_NS) {
			t0 += wall - sim_ns - MAX_CATCH_UP_NS;
			wall = sim_ns + MAX_CATCH_UP_NS;
		}
		int wait_ms = sim_ns > wall ? (int)((sim_ns - wall) / 1000000ULL) : 0;
		struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = pty_master, .events = POLLIN}};
		/* Only wait for serial input when the UART can take it. */
		if (free_run)
			wait_ms = 0, wall = sim_ns;
		int n = poll(p, (in_pos < in_len || !uart_xon) ? 1 : 2, wait_ms);
		if (n > 0 && (p[0].revents & (POLLIN | POLLHUP)))
			read_commands();
		/* Host bytes that woke us go into the UART now, at this cycle, not
		 * after the next slice: otherwise each RESULT waited up to a slice
		 * more in simulated time than on the wall. */
		if (n > 0 && (p[1].revents & POLLIN))
			pump_uart();
		if (sim_ns > wall && wait_ms == 0) {
			/* less than 1 ms ahead: a short nap keeps us near real time */
			struct timespec ts = {0, (long)(sim_ns - wall)};
			nanosleep(&ts, NULL);
		}
	}
	if (out_dropped)
		fprintf(stderr, "clock_sim: %lu bytes to the PTY dropped (nobody reading)\n", out_dropped);
	eeprom_save();
	if (trace)
		fprintf(ev, "SPI %.3f bytes %lu retimed %lu\n", sim_ms(), spi_bytes, spi_retimed);
	fprintf(ev, "BYE %.3f stack %u\n", sim_ms(), stack_used());
	fflush(ev);
	return 0;
}
