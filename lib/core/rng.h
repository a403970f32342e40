/* The counter-based random number generator and id hashes (rng.c). */
#ifndef MS_RNG_H
#define MS_RNG_H

#include <stdint.h>

/* ---- counter-based RNG (Philox4x32-10): values depend only on (seed, stream, counter),
 * so a stream can be re-created anywhere (per sample id, per step) */
typedef struct {
	uint32_t key[2];
	uint64_t stream, ctr;
	uint32_t buf[4];
	int left;
} ms_rng;
void ms_rng_init(ms_rng *r, uint64_t seed, uint64_t stream);
uint32_t ms_rng_u32(ms_rng *r);
double ms_rng_uniform(ms_rng *r);          /* [0,1), 53 random bits */
float ms_rng_normal(ms_rng *r);            /* N(0,1), Box-Muller */
uint32_t ms_rng_below(ms_rng *r, uint32_t n);  /* uniform in [0,n), unbiased */
uint64_t ms_hash64(const char *s);         /* FNV-1a, e.g. stream = hash of a sample id */
/* a sample id's place in [0, 1), uniform over ids: the fixed hold-out splits (ms-segment
 * --val-fraction F, ms-pick --holdout F) are the ids below F */
double ms_id_fraction(const char *id);
/* shards of a stream by id (--shard K/N): shard K of N (1 <= K <= N) holds the ids
 * whose hash (not the one above: shards cut across the hold-out) falls in it, so a
 * sample's shard depends on its id and N only; n = 0: every id */
typedef struct {
	int k, n;
} ms_shard;
int ms_shard_parse(const char *s, ms_shard *sh);  /* "K/N"; -1 with the reason */
int ms_shard_has(const ms_shard *sh, const char *id);

#endif
