/*
 * opendkim_bench.c -- DKIM verify/sign throughput of libopendkim over .eml files,
 * for comparison with monban on the same corpus (see README.md beside this file).
 *
 * Build (Debian: apt-get install -y libopendkim-dev libssl-dev):
 *
 *   cc -O2 -Wall -I/usr/include/opendkim -o opendkim_bench opendkim_bench.c \
 *      -lopendkim -lcrypto
 *
 * Run:
 *
 *   ./opendkim_bench verify ZONE PASSES FILE...
 *   ./opendkim_bench sign KEYPEM SELECTOR DOMAIN PASSES FILE...
 *
 * e.g. ./opendkim_bench verify /tmp/dkim-corpus/keys.zone 1 /tmp/dkim-corpus/rsa/[0-9]*.eml
 *      ./opendkim_bench sign /tmp/dkim-corpus/rsa2048.pem rsa2048 bench.example 1 \
 *          /tmp/dkim-corpus/unsigned/[0-9]*.eml
 *
 * No DNS is used. The TXT records of ZONE (a BIND zone file; character-strings of a
 * record are joined) are written to a temporary key file, one
 * "selector._domainkey.domain<TAB>record" line each, and the library is told to read
 * keys from it (DKIM_OPTS_QUERYMETHOD = DKIM_QUERY_FILE, DKIM_OPTS_QUERYINFO = path).
 * The library opens and scans that file for every signature it checks. With the
 * environment variable OPENDKIM_LOOKUP=memory the records are instead served from
 * memory by a dkim_set_key_lookup() callback, which leaves out that file I/O.
 *
 * All files are read into memory first; only the library work is timed, as process
 * CPU time (CLOCK_PROCESS_CPUTIME_ID, user + system), over PASSES passes. One line
 * goes to stdout:
 *
 *   peer=opendkim op=verify alg=rsa messages=N ok=N cpu_s=... msgs_per_cpu_s=...
 *
 * verify: a message counts as ok when dkim_eom() returns DKIM_STAT_OK and the final
 * signature has passed with a matching body hash. Exit status 1 if any message is
 * not ok (the first failure goes to stderr).
 *
 * sign: relaxed/relaxed, rsa-sha256 or ed25519-sha256 (from the key's type), the
 * header list chosen the way monban's default does: every present instance of the
 * RFC 6376 5.4.1 fields below, then one more of each oversigned name
 * (DKIM_OPTS_SIGNHDRS + DKIM_OPTS_OVERSIGNHDRS; libopendkim lists the present
 * fields in message order, so h= may be ordered differently, with the same fields).
 * The key PEM is handed to dkim_sign() for every message, as that API requires.
 * After the timed passes, every signature of the first pass is put on its message
 * and verified by libopendkim against the public key derived from KEYPEM (untimed);
 * the line then carries selfcheck=OK/N, and the exit status is 1 unless all pass.
 * BENCH_SHOW_SIG=1 prints the first signature header to stderr.
 */

#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <dkim.h>

/* monban's default h= fields (crates/monban/src/dkim/sign.rs DEFAULT_SIGNED). */
static const char *SIGNED[] = {
	"from", "sender", "reply-to", "subject", "date", "message-id", "to", "cc",
	"mime-version", "content-type", "content-transfer-encoding", "content-id",
	"content-description", "content-disposition", "in-reply-to", "references",
	"list-id", "list-help", "list-unsubscribe", "list-unsubscribe-post",
	"list-subscribe", "list-post", "list-owner", "list-archive", NULL
};

/* ...and the ones listed once more than they occur (DEFAULT_OVERSIGNED). */
static const char *OVERSIGNED[] = {
	"from", "to", "cc", "subject", "date", "reply-to", "content-type",
	"content-transfer-encoding", "content-disposition", "mime-version", NULL
};

struct msg {
	const char *path;
	unsigned char *buf;
	size_t len;
};

struct key {
	char *name; /* lower case, no trailing dot */
	char *value;
};

static struct key *keys;
static size_t nkeys;
static char keyfile[] = "/tmp/opendkim-bench-keys.XXXXXX";
static bool keyfile_made;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
cleanup(void)
{
	if (keyfile_made)
		unlink(keyfile);
}

static void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("opendkim_bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cleanup();
	exit(2);
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

static unsigned char *
read_file(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		die("%s: cannot size", path);
	buf = xmalloc((size_t) n + 1);
	if (n > 0 && fread(buf, 1, (size_t) n, f) != (size_t) n)
		die("%s: short read", path);
	buf[n] = '\0';
	fclose(f);
	*lenp = (size_t) n;
	return buf;
}

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* ---- zone file --------------------------------------------------------------- */

static void
add_key(const char *name, const char *value)
{
	char *n = strdup(name);
	size_t l;

	if (n == NULL)
		die("out of memory");
	for (char *p = n; *p; p++)
		*p = (char) tolower((unsigned char) *p);
	l = strlen(n);
	if (l > 0 && n[l - 1] == '.')
		n[l - 1] = '\0';
	keys = realloc(keys, (nkeys + 1) * sizeof *keys);
	if (keys == NULL)
		die("out of memory");
	keys[nkeys].name = n;
	keys[nkeys].value = strdup(value);
	nkeys++;
}

struct tok {
	char *text;
	bool quoted;
};

/*
 * Reads the TXT records of a zone file: one record per logical line (parentheses
 * continue it over newlines), ';' comments, quoted character-strings (\" and \DDD
 * escapes) joined without separator. $ORIGIN is honoured for relative owners; other
 * directives are skipped.
 */
static void
load_zone(const char *path)
{
	size_t len, i = 0;
	char *z = (char *) read_file(path, &len);
	char origin[512] = "";
	char owner[512] = "";

	while (i < len) {
		struct tok toks[64];
		size_t ntok = 0;
		int depth = 0;
		bool leading_blank = (z[i] == ' ' || z[i] == '\t');

		/* one logical line */
		while (i < len) {
			char c = z[i];

			if (c == '\n' && depth == 0) {
				i++;
				break;
			}
			if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
				i++;
			} else if (c == ';') {
				while (i < len && z[i] != '\n')
					i++;
			} else if (c == '(') {
				depth++;
				i++;
			} else if (c == ')') {
				depth--;
				i++;
			} else {
				char buf[4096];
				size_t b = 0;
				bool quoted = (c == '"');

				if (quoted)
					i++;
				while (i < len) {
					c = z[i];
					if (quoted && c == '"') {
						i++;
						break;
					}
					if (!quoted && (c == ' ' || c == '\t' || c == '\r' ||
					    c == '\n' || c == ';' || c == '(' || c == ')'))
						break;
					if (c == '\\' && i + 1 < len) {
						if (i + 3 < len && isdigit((unsigned char) z[i + 1]) &&
						    isdigit((unsigned char) z[i + 2]) &&
						    isdigit((unsigned char) z[i + 3])) {
							c = (char) ((z[i + 1] - '0') * 100 +
							    (z[i + 2] - '0') * 10 + (z[i + 3] - '0'));
							i += 4;
						} else {
							c = z[i + 1];
							i += 2;
						}
					} else {
						i++;
					}
					if (b + 1 < sizeof buf)
						buf[b++] = c;
				}
				buf[b] = '\0';
				if (ntok < sizeof toks / sizeof toks[0]) {
					toks[ntok].text = strdup(buf);
					toks[ntok].quoted = quoted;
					ntok++;
				}
			}
		}
		if (ntok == 0)
			continue;

		size_t t = 0;

		if (toks[0].text[0] == '$' && !toks[0].quoted) {
			if (strcasecmp(toks[0].text, "$ORIGIN") == 0 && ntok > 1)
				snprintf(origin, sizeof origin, "%s", toks[1].text);
			goto next;
		}
		if (!leading_blank) {
			const char *o = toks[0].text;
			size_t ol = strlen(o);

			if (strcmp(o, "@") == 0)
				snprintf(owner, sizeof owner, "%s", origin);
			else if (ol > 0 && o[ol - 1] == '.')
				snprintf(owner, sizeof owner, "%s", o);
			else if (origin[0] != '\0')
				snprintf(owner, sizeof owner, "%s.%s", o, origin);
			else
				snprintf(owner, sizeof owner, "%s", o);
			t = 1;
		}
		/* skip TTL and class up to the type */
		while (t < ntok && !toks[t].quoted && strcasecmp(toks[t].text, "TXT") != 0 &&
		    (isdigit((unsigned char) toks[t].text[0]) ||
		     strcasecmp(toks[t].text, "IN") == 0))
			t++;
		if (t < ntok && strcasecmp(toks[t].text, "TXT") == 0) {
			char value[8192];
			size_t v = 0;

			value[0] = '\0';
			for (t++; t < ntok; t++) {
				size_t l = strlen(toks[t].text);

				if (v + l + 1 > sizeof value)
					die("%s: TXT record too long", path);
				memcpy(value + v, toks[t].text, l + 1);
				v += l;
			}
			add_key(owner, value);
		}
	next:
		for (t = 0; t < ntok; t++)
			free(toks[t].text);
	}
	free(z);
	if (nkeys == 0)
		die("%s: no TXT records", path);
}

/* The key file libopendkim's DKIM_QUERY_FILE method reads. */
static void
write_keyfile(void)
{
	int fd = mkstemp(keyfile);
	FILE *f;

	if (fd < 0)
		die("mkstemp: %s", strerror(errno));
	keyfile_made = true;
	f = fdopen(fd, "w");
	if (f == NULL)
		die("fdopen: %s", strerror(errno));
	for (size_t k = 0; k < nkeys; k++) {
		if (strchr(keys[k].value, '\n') != NULL)
			die("record for %s has a newline", keys[k].name);
		fprintf(f, "%s\t%s\n", keys[k].name, keys[k].value);
	}
	if (fclose(f) != 0)
		die("%s: %s", keyfile, strerror(errno));
}

/* dkim_set_key_lookup() callback: the record from the in-memory table. */
static DKIM_CBSTAT
memory_lookup(DKIM *dkim, DKIM_SIGINFO *sig, unsigned char *buf, size_t buflen)
{
	char name[600];
	const unsigned char *sel = dkim_sig_getselector(sig);
	const unsigned char *dom = dkim_sig_getdomain(sig);

	(void) dkim;
	if (sel == NULL || dom == NULL)
		return DKIM_CBSTAT_ERROR;
	snprintf(name, sizeof name, "%s._domainkey.%s", sel, dom);
	for (size_t k = 0; k < nkeys; k++) {
		if (strcasecmp(keys[k].name, name) == 0) {
			if (strlen(keys[k].value) + 1 > buflen)
				return DKIM_CBSTAT_ERROR;
			strcpy((char *) buf, keys[k].value);
			return DKIM_CBSTAT_CONTINUE;
		}
	}
	return DKIM_CBSTAT_NOTFOUND;
}

static DKIM_LIB *
new_lib(bool memory)
{
	DKIM_LIB *lib = dkim_init(NULL, NULL);

	if (lib == NULL)
		die("dkim_init failed");
	if (memory) {
		if (dkim_set_key_lookup(lib, memory_lookup) != DKIM_STAT_OK)
			die("dkim_set_key_lookup failed");
	} else {
		dkim_query_t qm = DKIM_QUERY_FILE;

		if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &qm,
		    sizeof qm) != DKIM_STAT_OK ||
		    dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO, keyfile,
		    strlen(keyfile)) != DKIM_STAT_OK)
			die("dkim_options(query file) failed");
	}
	return lib;
}

/* ---- verify ------------------------------------------------------------------ */

/* Verifies one message; true if it passed. On failure, describes why in why[]. */
static bool
verify_one(DKIM_LIB *lib, const unsigned char *buf, size_t len, char *why, size_t whylen)
{
	DKIM_STAT st;
	DKIM *d = dkim_verify(lib, (const unsigned char *) "bench", NULL, &st);
	DKIM_SIGINFO *sig;
	bool ok;

	if (d == NULL) {
		snprintf(why, whylen, "dkim_verify: %s", dkim_getresultstr(st));
		return false;
	}
	st = dkim_chunk(d, (unsigned char *) buf, len);
	if (st == DKIM_STAT_OK)
		st = dkim_chunk(d, NULL, 0);
	if (st == DKIM_STAT_OK)
		st = dkim_eom(d, NULL);
	sig = dkim_getsignature(d);
	ok = st == DKIM_STAT_OK && sig != NULL && DKIM_SIG_CHECK(sig);
	if (!ok && why != NULL) {
		const char *err = dkim_geterror(d);

		snprintf(why, whylen, "%s; %s%s%s", dkim_getresultstr(st),
		    sig != NULL ? dkim_sig_geterrorstr(dkim_sig_geterror(sig)) : "no signature",
		    err != NULL ? "; " : "", err != NULL ? err : "");
	}
	dkim_free(d);
	return ok;
}

/* "rsa" or "ed25519" from the a= of the first DKIM-Signature in the header block. */
static const char *
msg_alg(const struct msg *m)
{
	const char *h = (const char *) m->buf;
	const char *end = memmem(h, m->len, "\r\n\r\n", 4);
	const char *p;

	if (end == NULL)
		end = h + m->len;
	p = memmem(h, (size_t) (end - h), "ed25519-sha256", 14);
	if (p != NULL)
		return "ed25519";
	p = memmem(h, (size_t) (end - h), "rsa-sha", 7);
	return p != NULL ? "rsa" : "none";
}

static int
run_verify(const char *zone, long passes, struct msg *msgs, size_t n, bool memory)
{
	DKIM_LIB *lib;
	const char *alg = n > 0 ? msg_alg(&msgs[0]) : "none";
	char why[1024] = "";
	size_t ok = 0, first_bad = (size_t) -1;
	double t0, cpu;

	load_zone(zone);
	if (!memory)
		write_keyfile();
	lib = new_lib(memory);
	for (size_t i = 1; i < n; i++)
		if (strcmp(msg_alg(&msgs[i]), alg) != 0)
			alg = "mixed";

	t0 = cpu_now();
	for (long p = 0; p < passes; p++) {
		for (size_t i = 0; i < n; i++) {
			if (verify_one(lib, msgs[i].buf, msgs[i].len,
			    first_bad == (size_t) -1 ? why : NULL, sizeof why))
				ok++;
			else if (first_bad == (size_t) -1)
				first_bad = i;
		}
	}
	cpu = cpu_now() - t0;

	size_t total = n * (size_t) passes;

	printf("peer=opendkim op=verify alg=%s lookup=%s messages=%zu ok=%zu cpu_s=%.3f "
	    "msgs_per_cpu_s=%.0f\n", alg, memory ? "memory" : "file", total, ok, cpu,
	    cpu > 0 ? (double) total / cpu : 0.0);
	dkim_close(lib);
	if (ok < total) {
		fprintf(stderr, "opendkim_bench: first failure: %s: %s\n",
		    msgs[first_bad].path, why);
		return 1;
	}
	return 0;
}

/* ---- sign -------------------------------------------------------------------- */

static char *
b64(const unsigned char *der, int len)
{
	char *out = xmalloc((size_t) (4 * ((len + 2) / 3) + 1));

	EVP_EncodeBlock((unsigned char *) out, der, len);
	return out;
}

/*
 * Reads the private key; sets *alg and fills the public key record (for the
 * self-check) the way the zone would publish it.
 */
static void
inspect_key(const char *pem, dkim_alg_t *alg, const char **algname, char **record)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);

	if (pk == NULL)
		die("the key is not a PEM private key OpenSSL can read");
	if (EVP_PKEY_base_id(pk) == EVP_PKEY_ED25519) {
		unsigned char raw[32];
		size_t rl = sizeof raw;
		char *p;

		if (EVP_PKEY_get_raw_public_key(pk, raw, &rl) != 1)
			die("cannot get the Ed25519 public key");
		p = b64(raw, (int) rl);
		*alg = DKIM_SIGN_ED25519SHA256;
		*algname = "ed25519";
		if (asprintf(record, "v=DKIM1; k=ed25519; p=%s", p) < 0)
			die("out of memory");
		free(p);
	} else if (EVP_PKEY_base_id(pk) == EVP_PKEY_RSA) {
		unsigned char *der = NULL;
		int dl = i2d_PUBKEY(pk, &der);
		char *p;

		if (dl <= 0)
			die("cannot encode the RSA public key");
		p = b64(der, dl);
		*alg = DKIM_SIGN_RSASHA256;
		*algname = "rsa";
		if (asprintf(record, "v=DKIM1; k=rsa; p=%s", p) < 0)
			die("out of memory");
		free(p);
		OPENSSL_free(der);
	} else {
		die("unsupported key type");
	}
	EVP_PKEY_free(pk);
	BIO_free(bio);
}

static int
run_sign(const char *keypem_path, const char *selector, const char *domain,
    long passes, struct msg *msgs, size_t n, bool memory)
{
	size_t keylen;
	unsigned char *keypem = read_file(keypem_path, &keylen);
	dkim_alg_t alg;
	const char *algname;
	char *record;
	DKIM_LIB *lib;
	char **sigs = calloc(n ? n : 1, sizeof *sigs);
	size_t ok = 0, sigbytes = 0, first_bad = (size_t) -1;
	char why[1024] = "";
	double t0, cpu;

	if (sigs == NULL)
		die("out of memory");
	inspect_key((const char *) keypem, &alg, &algname, &record);
	lib = dkim_init(NULL, NULL);
	if (lib == NULL)
		die("dkim_init failed");
	if (alg == DKIM_SIGN_ED25519SHA256 && !dkim_libfeature(lib, DKIM_FEATURE_ED25519))
		die("this libopendkim has no Ed25519 support");
	/* data: the NULL-terminated array; len: the size of a pointer to it */
	if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, SIGNED,
	    sizeof(const char **)) != DKIM_STAT_OK ||
	    dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS, OVERSIGNED,
	    sizeof(const char **)) != DKIM_STAT_OK)
		die("dkim_options(header lists) failed");

	t0 = cpu_now();
	for (long p = 0; p < passes; p++) {
		for (size_t i = 0; i < n; i++) {
			DKIM_STAT st;
			DKIM *d = dkim_sign(lib, (const unsigned char *) "bench", NULL,
			    keypem, (const unsigned char *) selector,
			    (const unsigned char *) domain, DKIM_CANON_RELAXED,
			    DKIM_CANON_RELAXED, alg, -1, &st);
			unsigned char *hdr = NULL;
			size_t hl = 0;

			if (d == NULL) {
				if (first_bad == (size_t) -1) {
					first_bad = i;
					snprintf(why, sizeof why, "dkim_sign: %s",
					    dkim_getresultstr(st));
				}
				continue;
			}
			st = dkim_chunk(d, msgs[i].buf, msgs[i].len);
			if (st == DKIM_STAT_OK)
				st = dkim_chunk(d, NULL, 0);
			if (st == DKIM_STAT_OK)
				st = dkim_eom(d, NULL);
			if (st == DKIM_STAT_OK)
				st = dkim_getsighdr_d(d, strlen(DKIM_SIGNHEADER) + 2, &hdr, &hl);
			if (st == DKIM_STAT_OK) {
				ok++;
				sigbytes += hl;
				if (p == 0) {
					sigs[i] = xmalloc(hl + 1);
					memcpy(sigs[i], hdr, hl + 1);
				}
			} else {
				if (p == 0)
					sigs[i] = NULL;
				if (first_bad == (size_t) -1) {
					const char *err = dkim_geterror(d);

					first_bad = i;
					snprintf(why, sizeof why, "%s%s%s", dkim_getresultstr(st),
					    err ? "; " : "", err ? err : "");
				}
			}
			dkim_free(d);
		}
	}
	cpu = cpu_now() - t0;
	dkim_close(lib);

	if (getenv("BENCH_SHOW_SIG") != NULL && n > 0 && sigs[0] != NULL)
		fprintf(stderr, "%s: %s\n", DKIM_SIGNHEADER, sigs[0]);

	/* Self-check, untimed: every first-pass signature on its message. */
	char name[600];
	size_t good = 0;

	snprintf(name, sizeof name, "%s._domainkey.%s", selector, domain);
	add_key(name, record);
	if (!memory)
		write_keyfile();
	lib = new_lib(memory);
	for (size_t i = 0; i < n && passes > 0; i++) {
		char cwhy[900];
		size_t sl, total;
		unsigned char *signed_msg;

		if (sigs[i] == NULL)
			continue;
		sl = strlen(sigs[i]);
		total = sizeof DKIM_SIGNHEADER + 1 + sl + 2 + msgs[i].len;
		signed_msg = xmalloc(total);
		snprintf((char *) signed_msg, total, "%s: %s\r\n", DKIM_SIGNHEADER, sigs[i]);
		memcpy(signed_msg + strlen((char *) signed_msg), msgs[i].buf, msgs[i].len);
		if (verify_one(lib, signed_msg, strlen(DKIM_SIGNHEADER) + 4 + sl + msgs[i].len,
		    cwhy, sizeof cwhy))
			good++;
		else if (first_bad == (size_t) -1) {
			first_bad = i;
			snprintf(why, sizeof why, "self-check: %s", cwhy);
		}
		free(signed_msg);
		free(sigs[i]);
	}
	dkim_close(lib);

	size_t total = n * (size_t) passes;

	printf("peer=opendkim op=sign alg=%s messages=%zu ok=%zu selfcheck=%zu/%zu "
	    "cpu_s=%.3f msgs_per_cpu_s=%.0f sig_bytes=%zu\n", algname, total, ok, good,
	    passes > 0 ? n : 0, cpu, cpu > 0 ? (double) total / cpu : 0.0, sigbytes);
	free(sigs);
	free(record);
	free(keypem);
	if (ok < total || (passes > 0 && good < n)) {
		fprintf(stderr, "opendkim_bench: first failure: %s: %s\n",
		    first_bad != (size_t) -1 ? msgs[first_bad].path : "?", why);
		return 1;
	}
	return 0;
}

/* ---- main -------------------------------------------------------------------- */

static long
parse_passes(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 1)
		die("PASSES must be a positive integer, not %s", s);
	return v;
}

static struct msg *
load_msgs(char **paths, size_t n)
{
	struct msg *m = xmalloc(n * sizeof *m);

	for (size_t i = 0; i < n; i++) {
		m[i].path = paths[i];
		m[i].buf = read_file(paths[i], &m[i].len);
	}
	return m;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: opendkim_bench verify ZONE PASSES FILE...\n"
	    "       opendkim_bench sign KEYPEM SELECTOR DOMAIN PASSES FILE...\n"
	    "       (OPENDKIM_LOOKUP=memory: keys from a callback, not the key file)\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *lk = getenv("OPENDKIM_LOOKUP");
	bool memory = lk != NULL && strcmp(lk, "memory") == 0;
	int rc;

	if (lk != NULL && !memory && strcmp(lk, "file") != 0)
		die("OPENDKIM_LOOKUP must be file or memory");
	if (argc >= 5 && strcmp(argv[1], "verify") == 0) {
		long passes = parse_passes(argv[3]);
		size_t n = (size_t) (argc - 4);
		struct msg *m = load_msgs(argv + 4, n);

		rc = run_verify(argv[2], passes, m, n, memory);
	} else if (argc >= 7 && strcmp(argv[1], "sign") == 0) {
		long passes = parse_passes(argv[5]);
		size_t n = (size_t) (argc - 6);
		struct msg *m = load_msgs(argv + 6, n);

		rc = run_sign(argv[2], argv[3], argv[4], passes, m, n, memory);
	} else {
		usage();
	}
	cleanup();
	return rc;
}
