/* ms: the core layer in one include. Errors, allocation, options, threads, tensors,
 * the RNG, atomic output files and the ranks of an MPI run; the record stream is
 * io/stream.h. */
#ifndef MS_H
#define MS_H

#include "core/dist.h"
#include "core/opt.h"
#include "core/outfile.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "core/threads.h"
#include "core/util.h"

#endif
