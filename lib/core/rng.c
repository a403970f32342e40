/* Philox4x32-10 (Salmon et al., SC'11): a counter-based generator. */
#include <math.h>
#include <string.h>

#include "core/rng.h"
#include "core/util.h"

static void philox(const uint32_t key[2], const uint32_t in[4], uint32_t out[4])
{
	uint32_t c0 = in[0], c1 = in[1], c2 = in[2], c3 = in[3], k0 = key[0], k1 = key[1];
	for (int i = 0; i < 10; i++) {
		uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
		uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
		c1 = (uint32_t)p1;
		c3 = (uint32_t)p0;
		c0 = n0;
		c2 = n2;
		k0 += 0x9E3779B9u;
		k1 += 0xBB67AE85u;
	}
	out[0] = c0;
	out[1] = c1;
	out[2] = c2;
	out[3] = c3;
}

void ms_rng_init(ms_rng *r, uint64_t seed, uint64_t stream)
{
	r->key[0] = (uint32_t)seed;
	r->key[1] = (uint32_t)(seed >> 32);
	r->stream = stream;
	r->ctr = 0;
	r->left = 0;
}

uint32_t ms_rng_u32(ms_rng *r)
{
	if (!r->left) {
		uint32_t in[4] = { (uint32_t)r->ctr, (uint32_t)(r->ctr >> 32), (uint32_t)r->stream,
		                   (uint32_t)(r->stream >> 32) };
		philox(r->key, in, r->buf);
		r->ctr++;
		r->left = 4;
	}
	return r->buf[--r->left];
}

double ms_rng_uniform(ms_rng *r)
{
	uint64_t hi = ms_rng_u32(r) >> 5, lo = ms_rng_u32(r) >> 6;
	return (hi * 67108864.0 + lo) / 9007199254740992.0;
}

float ms_rng_normal(ms_rng *r)
{
	double u1 = 1.0 - ms_rng_uniform(r), u2 = ms_rng_uniform(r);
	return (float)(sqrt(-2.0 * log(u1)) * cos(2 * M_PI * u2));
}

uint32_t ms_rng_below(ms_rng *r, uint32_t n)
{
	uint32_t limit = -n % n;   /* reject the low values that bias the modulo */
	uint32_t v;
	do
		v = ms_rng_u32(r);
	while (v < limit);
	return v % n;
}

uint64_t ms_hash64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

double ms_id_fraction(const char *id)
{
	uint64_t h = ms_hash64(id);   /* FNV-1a, then a murmur finaliser for the top bits */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (double)(h >> 11) * 0x1p-53;
}

int ms_shard_parse(const char *s, ms_shard *sh)
{
	long k, n;
	const char *slash = strchr(s, '/');
	char a[32];
	if (slash && (size_t)(slash - s) < sizeof a) {
		memcpy(a, s, slash - s);
		a[slash - s] = '\0';
		if (ms_parse_int(a, 1, 1L << 30, &k) == 0 &&
		    ms_parse_int(slash + 1, 1, 1L << 30, &n) == 0 && k <= n) {
			sh->k = (int)k;
			sh->n = (int)n;
			return 0;
		}
	}
	return ms_error("'%s': need K/N with 1 <= K <= N, e.g. 2/8", s);
}

int ms_shard_has(const ms_shard *sh, const char *id)
{
	if (sh->n <= 0)
		return 1;
	uint64_t h = ms_hash64(id) ^ 0x9e3779b97f4a7c15ull;   /* splitmix64's finaliser */
	h = (h ^ h >> 30) * 0xbf58476d1ce4e5b9ull;
	h = (h ^ h >> 27) * 0x94d049bb133111ebull;
	h ^= h >> 31;
	return (int)((h >> 32) * (uint64_t)sh->n >> 32) == sh->k - 1;
}
