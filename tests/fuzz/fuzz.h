/* Shared by the fuzz targets in tests/fuzz/.
 *
 * Each target defines LLVMFuzzerTestOneInput.  With meson -Dfuzzing=true it
 * links clang's libFuzzer; otherwise replay.c supplies a main() that runs it
 * over the files and folders named on the command line (how `meson test
 * --suite fuzz` replays the corpora and tests/crashers/).  A broken
 * invariant traps, which both libFuzzer and the replay report as a crash. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "pixels/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test: trap when it does not hold. */
#define FUZZ_CHECK(cond)                                                                          \
    do {                                                                                          \
        if (!(cond))                                                                              \
            __builtin_trap();                                                                     \
    } while (0)

/* Every failure says why, in a non-empty message. */
#define FUZZ_CHECK_REASON(error)                                                                  \
    FUZZ_CHECK((error) != NULL && (error)->message != NULL && (error)->message[0] != '\0')

/* The input as a regular file, for the reader's pread path (fd sources);
 * -1 if none can be made.  Caller closes. */
int fuzz_memfd(const uint8_t *data, size_t size);

/* Bytes of the image description fuzz_image_take() reads: rows (u16 LE),
 * columns (u16 LE), samples, bits allocated, bits stored, high bit, flags
 * (bit 0 signed, bit 1 planar, bits 2-4 the photometric: MONOCHROME2,
 * MONOCHROME1, RGB, YBR_FULL, YBR_FULL_422, YBR_ICT, YBR_RCT, PALETTE
 * COLOR). */
#define FUZZ_IMAGE_HEADER 9

/* A one-frame image for `codec` from the first FUZZ_IMAGE_HEADER bytes of
 * the input, which are consumed; FALSE (input skipped) for descriptions
 * dfs_image_describe() would refuse and for images over max_pixels. */
gboolean fuzz_image_take(const uint8_t **data, size_t *size, DfsCodec codec, guint64 max_pixels,
                         DfsImage *img);

/* A decoder of codec.h: one frame's encoded bytes to stored values. */
typedef gboolean (*FuzzDecoder)(const DfsImage *img, const guint8 *data, gsize len, guint8 *out,
                                GError **error);

/* The per-codec targets: an image description (fuzz_image_take) then the
 * encoded frame, given to each of the n decoders, which decode it or say
 * why not. */
void fuzz_codec(const uint8_t *data, size_t size, DfsCodec codec, const FuzzDecoder *decoders,
                guint n);
