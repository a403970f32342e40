/* The record stream (ms-stream(5)): read, write, copy through, metadata. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "core/tensor.h"
#include "core/util.h"
#include "io/stream.h"

#define CHUNK ((size_t)1 << 24)        /* payloads are read in pieces of at most this */
#define COPY_CHUNK ((size_t)1 << 20)   /* pass-through copies; smaller overlaps better in pipes */

static const unsigned char zeros[MS_ALIGN];

static uint32_t get32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> 8 * i;
}

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static size_t pad_of(uint64_t n)
{
	return (MS_ALIGN - n % MS_ALIGN) % MS_ALIGN;
}

void ms_rec_init(ms_rec *r)
{
	memset(r, 0, sizeof *r);
}

void ms_rec_free(ms_rec *r)
{
	if (!r)
		return;
	free(r->meta);
	free(r->t.data);
	free(r->raw);
	ms_rec_init(r);
}

int ms_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > MS_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') ||
		      ('0' <= *s && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			return 0;
	return 1;
}

static int meta_valid(const char *m, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t k = i;
		while (k < n && m[k] != '=' && m[k] != '\n') {
			char c = m[k];
			if (!(('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') ||
			      ('0' <= c && c <= '9') || c == '_' || c == '.' || c == '-'))
				return 0;
			k++;
		}
		if (k == i || k == n || m[k] != '=')
			return 0;
		while (k < n && m[k] != '\n')
			if (m[k++] == '\0')
				return 0;
		if (k == n)
			return 0;      /* every line ends with \n */
		i = k + 1;
	}
	return 1;
}

static int read_full(FILE *in, void *buf, size_t n)
{
	return fread(buf, 1, n, in) == n ? 0 : -1;
}

static int pad_check(FILE *in, size_t n, const char *name)
{
	unsigned char pad[MS_ALIGN];
	if (read_full(in, pad, n) < 0)
		return ms_error("truncated record '%s'", name);
	if (memcmp(pad, zeros, n))
		return ms_error("record '%s': nonzero padding", name);
	return 0;
}

int ms_rec_read_header(FILE *in, ms_rec *r)
{
	unsigned char h[MS_HEADER_SIZE];
	ms_rec_free(r);
	size_t got = fread(h, 1, sizeof h, in);
	if (got == 0 && !ferror(in))
		return 0;
	if (ferror(in))
		return ms_error("read error:");
	if (got < sizeof h)
		return ms_error("truncated record header (%zu of %d bytes)", got, MS_HEADER_SIZE);
	if (memcmp(h, MS_MAGIC, 4))
		return ms_error("bad magic: not an ms stream, or out of sync");
	if (h[4] != MS_VERSION)
		return ms_error("unsupported stream version %u", h[4]);
	int dtype = h[5], rank = h[6];
	unsigned flags = h[7];
	if (!ms_dtype_size(dtype))
		return ms_error("unknown dtype %d", dtype);
	if (rank > MS_MAX_RANK)
		return ms_error("rank %d exceeds %d", rank, MS_MAX_RANK);
	if (flags & ~MS_FLAGS_KNOWN)
		return ms_error("unknown flags 0x%02x", flags);
	size_t bytes = ms_dtype_size(dtype);
	for (int i = 0; i < MS_MAX_RANK; i++) {
		uint32_t d = get32(h + 8 + 4 * i);
		if (i >= rank && d)
			return ms_error("shape entry %d set beyond rank %d", i, rank);
		if (i < rank && ms_mul_overflow(bytes, d, &bytes))
			return ms_error("shape byte size overflows");
		r->t.shape[i] = d;
	}
	unsigned name_len = h[24] | h[25] << 8;
	uint32_t meta_len = get32(h + 28);
	uint64_t data_len = get64(h + 32), stored = get64(h + 40);
	if (h[26] || h[27])
		return ms_error("reserved header bytes are not zero");
	if (name_len < 1 || name_len > MS_NAME_MAX)
		return ms_error("record name length %u out of range 1..%d", name_len, MS_NAME_MAX);
	if (meta_len > MS_META_MAX)
		return ms_error("metadata of %u bytes exceeds the limit of %d", meta_len, MS_META_MAX);
	if (data_len != bytes)
		return ms_error("payload length %llu disagrees with shape (%zu bytes)",
		                (unsigned long long)data_len, bytes);
	if (bytes > MS_PAYLOAD_MAX)
		return ms_error("payload of %zu bytes exceeds the limit", bytes);
	if (flags & MS_FLAG_ZLIB) {
		if (stored < 8 || stored > compressBound(bytes) || bytes / 1032 > stored)
			return ms_error("compressed length %llu impossible for %zu bytes",
			                (unsigned long long)stored, bytes);
	} else if (stored != data_len) {
		return ms_error("stored length %llu disagrees with payload length %llu",
		                (unsigned long long)stored, (unsigned long long)data_len);
	}
	r->t.dtype = dtype;
	r->t.rank = rank;
	r->flags = flags;
	r->stored_len = stored;
	if (read_full(in, r->name, name_len) < 0)
		return ms_error("truncated record name");
	r->name[name_len] = '\0';
	if (strlen(r->name) != name_len || !ms_name_valid(r->name))   /* a NUL would cut it */
		return ms_error("invalid record name: bytes other than letters, digits, '_', '.', '-'");
	if (!(r->meta = ms_malloc(meta_len + 1)))
		return -1;
	r->meta_len = meta_len;
	if (read_full(in, r->meta, meta_len) < 0)
		return ms_error("truncated metadata in record '%s'", r->name);
	r->meta[meta_len] = '\0';
	if (!meta_valid(r->meta, meta_len))
		return ms_error("record '%s': metadata is not key=value lines (keys of letters, "
		                "digits, '_', '.', '-'; values without NUL)", r->name);
	if (pad_check(in, pad_of(MS_HEADER_SIZE + name_len + meta_len), r->name) < 0)
		return -1;
	r->payload_pending = 1;
	return 1;
}

/* read n bytes into a buffer that grows as data arrives, so a lying header costs
 * no more memory than the bytes really present */
static void *read_grow(FILE *in, size_t n, const char *name)
{
	size_t cap = n < CHUNK ? n : CHUNK, have = 0;
	unsigned char *p = ms_malloc(cap);
	if (!p)
		return NULL;
	while (have < n) {
		if (have == cap) {
			size_t ncap = cap * 2 < n ? cap * 2 : n;
			unsigned char *q = ms_reallocarray(p, ncap, 1);
			if (!q) {
				free(p);
				return NULL;
			}
			p = q;
			cap = ncap;
		}
		size_t want = cap - have, got = fread(p + have, 1, want, in);
		have += got;
		if (got < want) {
			free(p);
			ms_error("truncated payload in record '%s' (%zu of %zu bytes)", name, have, n);
			return NULL;
		}
	}
	return p;
}

int ms_rec_read_raw(FILE *in, ms_rec *r)
{
	MS_ASSERT(r->payload_pending);
	r->payload_pending = 0;
	unsigned char *raw = read_grow(in, r->stored_len, r->name);
	if (!raw)
		return -1;
	if (pad_check(in, pad_of(r->stored_len), r->name) < 0) {
		free(raw);
		return -1;
	}
	r->raw = raw;
	return 0;
}

int ms_rec_decode(ms_rec *r)
{
	if (!r->raw)
		return 0;
	unsigned char *raw = r->raw;
	r->raw = NULL;
	if (!(r->flags & MS_FLAG_ZLIB)) {
		r->t.data = raw;
		return 0;
	}
	size_t n = ms_tensor_bytes(&r->t);
	unsigned char *out = ms_malloc(n);
	if (!out) {
		free(raw);
		return -1;
	}
	uLongf outlen = n;
	int z = uncompress(out, &outlen, raw, r->stored_len);
	free(raw);
	if (z != Z_OK || outlen != n) {
		free(out);
		return ms_error("record '%s': corrupt compressed payload", r->name);
	}
	r->t.data = out;
	return 0;
}

int ms_rec_read_data(FILE *in, ms_rec *r)
{
	return ms_rec_read_raw(in, r) < 0 ? -1 : ms_rec_decode(r);
}

/* write errors on standard output say so, as fshut's "<stdout>"; callers name files */
static const char *to(FILE *out)
{
	return out == stdout ? " to <stdout>" : "";
}

static int write_head(FILE *out, const ms_rec *r, uint64_t stored)
{
	unsigned char h[MS_HEADER_SIZE] = { 0 };
	size_t name_len = strlen(r->name), meta_len = r->meta ? r->meta_len : 0;
	memcpy(h, MS_MAGIC, 4);
	h[4] = MS_VERSION;
	h[5] = (unsigned char)r->t.dtype;
	h[6] = (unsigned char)r->t.rank;
	h[7] = (unsigned char)(r->flags & MS_FLAGS_KNOWN);
	for (int i = 0; i < r->t.rank; i++)
		put32(h + 8 + 4 * i, (uint32_t)r->t.shape[i]);
	h[24] = name_len & 0xff;
	h[25] = name_len >> 8;
	put32(h + 28, (uint32_t)meta_len);
	put64(h + 32, ms_tensor_bytes(&r->t));
	put64(h + 40, stored);
	if (fwrite(h, 1, sizeof h, out) != sizeof h ||
	    fwrite(r->name, 1, name_len, out) != name_len ||
	    fwrite(r->meta ? r->meta : "", 1, meta_len, out) != meta_len ||
	    fwrite(zeros, 1, pad_of(sizeof h + name_len + meta_len), out) !=
	            pad_of(sizeof h + name_len + meta_len))
		return ms_error("cannot write record '%s'%s:", r->name, to(out));
	return 0;
}

int ms_rec_write(FILE *out, const ms_rec *r)
{
	if (!ms_name_valid(r->name))
		return ms_error("invalid record name '%s'", r->name);
	if (!ms_dtype_size(r->t.dtype) || r->t.rank < 0 || r->t.rank > MS_MAX_RANK)
		return ms_error("record '%s': invalid dtype or rank", r->name);
	for (int i = 0; i < r->t.rank; i++)
		if (r->t.shape[i] < 0 || r->t.shape[i] > UINT32_MAX)
			return ms_error("record '%s': dimension out of range", r->name);
	if (r->meta_len > MS_META_MAX)
		return ms_error("record '%s': metadata exceeds %d bytes", r->name, MS_META_MAX);
	size_t n = ms_tensor_bytes(&r->t);
	const void *payload = r->t.data;
	unsigned char *z = NULL;
	uint64_t stored = n;
	if (!payload && r->raw) {              /* as read: byte for byte */
		payload = r->raw;
		stored = r->stored_len;
	} else if (n && !payload) {
		return ms_error("record '%s' has no data", r->name);
	} else if (r->flags & MS_FLAG_ZLIB) {
		uLongf zlen = compressBound(n);
		if (!(z = ms_malloc(zlen)))
			return -1;
		if (compress2(z, &zlen, payload, n, 6) != Z_OK) {
			free(z);
			return ms_error("record '%s': compression failed", r->name);
		}
		payload = z;
		stored = zlen;
	}
	int ret = write_head(out, r, stored);
	if (!ret && (fwrite(payload, 1, stored, out) != stored ||
	             fwrite(zeros, 1, pad_of(stored), out) != pad_of(stored)))
		ret = ms_error("cannot write record '%s'%s:", r->name, to(out));
	free(z);
	return ret;
}

static int pass_payload(FILE *in, ms_rec *r, FILE *out)
{
	static unsigned char *buf;
	MS_ASSERT(r->payload_pending);
	r->payload_pending = 0;
	if (!buf && !(buf = ms_malloc(COPY_CHUNK)))
		return -1;
	uint64_t left = r->stored_len + pad_of(r->stored_len);
	while (left) {
		size_t want = left < COPY_CHUNK ? left : COPY_CHUNK;
		size_t got = fread(buf, 1, want, in);
		if (out && fwrite(buf, 1, got, out) != got)
			return ms_error("cannot write record '%s'%s:", r->name, to(out));
		if (got < want)
			return ms_error("truncated payload in record '%s'", r->name);
		left -= got;
	}
	return 0;
}

int ms_rec_copy(FILE *in, ms_rec *r, FILE *out)
{
	if (write_head(out, r, r->stored_len) < 0)
		return -1;
	return pass_payload(in, r, out);
}

int ms_rec_skip(FILE *in, ms_rec *r)
{
	return pass_payload(in, r, NULL);
}

int ms_rec_read(FILE *in, ms_rec *r)
{
	int ret = ms_rec_read_header(in, r);
	if (ret == 1 && ms_rec_read_data(in, r) < 0)
		return -1;
	return ret;
}

int ms_rec_set_name(ms_rec *r, const char *name)
{
	if (!ms_name_valid(name))
		return ms_error("invalid record name '%s'", name);
	snprintf(r->name, sizeof r->name, "%s", name);
	return 0;
}

int ms_rec_set(ms_rec *r, const char *name, const ms_tensor *t)
{
	if (ms_rec_set_name(r, name) < 0)
		return -1;
	free(r->t.data);
	r->t = *t;
	r->stored_len = ms_tensor_bytes(t);
	r->payload_pending = 0;
	return 0;
}

/* ---- metadata */
static const char *find_key(const char *m, const char *key, size_t *linelen)
{
	size_t kl = strlen(key);
	for (const char *p = m; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
		if (len > kl && !strncmp(p, key, kl) && p[kl] == '=') {
			*linelen = len;
			return p;
		}
		p += len;
	}
	return NULL;
}

const char *ms_meta_get(const ms_rec *r, const char *key, char *buf, size_t bufsz)
{
	size_t len;
	const char *p = find_key(r->meta, key, &len);
	if (!p)
		return NULL;
	size_t kl = strlen(key), vl = len - kl - 2;
	if (bufsz == 0)
		return NULL;
	if (vl >= bufsz)
		vl = bufsz - 1;
	memcpy(buf, p + kl + 1, vl);
	buf[vl] = '\0';
	return buf;
}

int ms_meta_set(ms_rec *r, const char *key, const char *value)
{
	if (!ms_name_valid(key))
		return ms_error("invalid metadata key '%s'", key);
	if (value && strchr(value, '\n'))
		return ms_error("metadata value for '%s' contains a newline", key);
	size_t len;
	char *p = (char *)find_key(r->meta, key, &len);
	if (p) {
		memmove(p, p + len, r->meta_len - (size_t)(p - r->meta) - len + 1);
		r->meta_len -= len;
	}
	if (!value)
		return 0;
	size_t add = strlen(key) + strlen(value) + 2;
	if (r->meta_len + add > MS_META_MAX)
		return ms_error("metadata exceeds %d bytes", MS_META_MAX);
	char *m = ms_reallocarray(r->meta, r->meta_len + add + 1, 1);
	if (!m)
		return -1;
	snprintf(m + r->meta_len, add + 1, "%s=%s\n", key, value);
	r->meta = m;
	r->meta_len += add;
	return 0;
}

int ms_meta_copy(ms_rec *dst, const ms_rec *src)
{
	char *m = ms_malloc(src->meta_len + 1);
	if (!m)
		return -1;
	memcpy(m, src->meta ? src->meta : "", src->meta_len);
	m[src->meta_len] = '\0';
	free(dst->meta);
	dst->meta = m;
	dst->meta_len = src->meta_len;
	return 0;
}

int ms_rec_check_finite(const ms_rec *r)
{
	if (r->t.dtype != MS_F32 || !r->t.data)
		return 0;
	const float *v = r->t.data;
	size_t n = (size_t)ms_tensor_numel(&r->t), i = 0;
	while (i < n && isfinite(v[i]))
		i++;
	if (i == n)
		return 0;
	char id[256], at[96] = "";
	size_t rest = i;
	for (int d = r->t.rank - 1; d >= 0; d--) {     /* the index as [c,y,x] */
		char b[96];
		snprintf(b, sizeof b, "%zu%s%s", rest % (size_t)r->t.shape[d], *at ? "," : "", at);
		memcpy(at, b, sizeof at);
		rest /= (size_t)r->t.shape[d];
	}
	return ms_error("sample '%s', record '%s': non-finite value %g at [%s]",
	                ms_rec_id(r, id, sizeof id), r->name, (double)v[i], at);
}

const char *ms_rec_id(const ms_rec *r, char *buf, size_t bufsz)
{
	if (!ms_meta_get(r, "id", buf, bufsz))
		buf[0] = '\0';
	return buf;
}
