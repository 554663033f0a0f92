/* dicomfs core: display images as PNG.  See png.h.
 *
 * The file is written here directly: signature, IHDR, the image data as a
 * zlib stream of stored (uncompressed) deflate blocks cut into IDAT chunks,
 * IEND (ISO 15948, RFC 1950/1951), with zlib's crc32() and adler32().  The
 * bytes are those libpng 1.6 with zlib 1.2.13 wrote at compression level 0
 * without filters, which is what dicomfs served before (bench/png-check.c
 * compares the two on many shapes):
 *  - the zlib header declares the smallest window of 2^8..2^15 bytes that
 *    holds the image data, at the "fastest" level, no dictionary;
 *  - the data is fed row by row (filter byte 0 and the row) into a 64 KiB
 *    window; whenever 32 KiB or more are waiting after a row has gone in,
 *    they leave as one block (at most 65531 bytes).  A row that does not
 *    fit the window goes in piecewise: first the window slides down 32 KiB
 *    when the waiting bytes start past its first half, then as much as fits
 *    goes in, then the test above.  The end is one last block with what is
 *    left, empty if nothing is;
 *  - the stream is cut into IDAT chunks of 8192 bytes, the last shorter.
 * None of this depends on the pixel values, so the size of a PNG follows
 * from its shape alone (dfs_png_size). */
#include "pixels/png.h"

#include <string.h>
#include <zlib.h>

#include "base/error.h"

enum {
    WINDOW = 65536,      /* bytes the deflate window holds */
    WINDOW_HALF = 32768, /* the slide, and the size that makes a block */
    BLOCK_MAX = 65531,   /* the longest block */
    IDAT_BYTES = 8192,   /* zlib stream bytes in a full IDAT chunk */
    HEAD_BYTES = 8 + 25, /* signature, IHDR chunk */
    IEND_BYTES = 12,
};

/* The deflate window as rows go in: where the waiting bytes start and end. */
typedef struct {
    guint64 row_bytes, rows; /* per row: filter byte and samples */
    guint64 start, end;      /* in the window */
    guint64 y, row_left;     /* the row going in, and its bytes not yet in */
} Window;

static void window_init(Window *w, guint width, guint height, guint channels)
{
    memset(w, 0, sizeof *w);
    w->row_bytes = (guint64)width * channels + 1;
    w->rows = height;
    w->row_left = height ? w->row_bytes : 0;
}

/* The next block's length; *last for the final one.  FALSE after it. */
static gboolean window_next_block(Window *w, guint *len, gboolean *last)
{
    while (w->y < w->rows) {
        guint64 room = WINDOW - w->end;
        if (w->row_left == w->row_bytes && w->row_bytes <= room) {
            /* Whole rows that fit, up to the one that makes a block: as
             * many steps of the row by row rule at once. */
            guint64 waiting = w->end - w->start; /* < WINDOW_HALF here */
            guint64 k = MIN(room / w->row_bytes, w->rows - w->y);
            k = MIN(k, (WINDOW_HALF - waiting + w->row_bytes - 1) / w->row_bytes);
            w->end += k * w->row_bytes;
            w->y += k;
            w->row_left = w->y < w->rows ? w->row_bytes : 0;
        } else {
            if (w->row_left > room && w->start >= WINDOW_HALF) {
                w->start -= WINDOW_HALF;
                w->end -= WINDOW_HALF;
                room += WINDOW_HALF;
            }
            guint64 in = MIN(room, w->row_left);
            w->end += in;
            w->row_left -= in;
            if (w->row_left == 0 && ++w->y < w->rows)
                w->row_left = w->row_bytes;
        }
        if (w->end - w->start >= WINDOW_HALF) {
            *len = (guint)MIN(w->end - w->start, BLOCK_MAX);
            *last = FALSE;
            w->start += *len;
            return TRUE;
        }
    }
    if (w->end == G_MAXUINT64) /* the last block was given */
        return FALSE;
    *len = (guint)(w->end - w->start);
    *last = TRUE;
    w->end = G_MAXUINT64;
    return TRUE;
}

static gsize blocks_of(guint width, guint height, guint channels)
{
    Window w;
    window_init(&w, width, height, channels);
    guint len;
    gboolean last;
    gsize n = 0;
    while (window_next_block(&w, &len, &last))
        n++;
    return n;
}

/* libpng refused shapes beyond its default limits (a million pixels a side):
 * so do we. */
static gboolean shape_ok(guint width, guint height, guint channels)
{
    return width >= 1 && height >= 1 && width <= 1000000 && height <= 1000000 &&
           (channels == 1 || channels == 3);
}

/* The zlib stream: header, blocks (5 bytes of header each), Adler-32. */
static gsize zlib_bytes(guint width, guint height, guint channels)
{
    guint64 data = (guint64)height * ((guint64)width * channels + 1);
    return 2 + 5 * blocks_of(width, height, channels) + data + 4;
}

static gsize file_bytes(gsize zlib)
{
    gsize chunks = (zlib + IDAT_BYTES - 1) / IDAT_BYTES;
    return HEAD_BYTES + zlib + 12 * chunks + IEND_BYTES;
}

gsize dfs_png_size(guint width, guint height, guint channels)
{
    return shape_ok(width, height, channels) ? file_bytes(zlib_bytes(width, height, channels)) : 0;
}

static void put_be32(guint8 *p, guint32 v)
{
    p[0] = (guint8)(v >> 24);
    p[1] = (guint8)(v >> 16);
    p[2] = (guint8)(v >> 8);
    p[3] = (guint8)v;
}

/* A chunk whose data (len bytes) is already at p + 8: length, type, CRC. */
static void seal_chunk(guint8 *p, const char *type, gsize len)
{
    put_be32(p, (guint32)len);
    memcpy(p + 4, type, 4);
    put_be32(p + 8 + len, (guint32)crc32(0, p + 4, (uInt)(4 + len)));
}

/* The zlib stream, written straight into its IDAT chunks. */
typedef struct {
    guint8 *idat; /* the first IDAT chunk */
    gsize at;     /* stream bytes written */
} Stream;

static void stream_put(Stream *s, const guint8 *p, gsize n)
{
    while (n > 0) {
        gsize off = s->at % IDAT_BYTES, k = MIN(n, IDAT_BYTES - off);
        memcpy(s->idat + s->at / IDAT_BYTES * (IDAT_BYTES + 12) + 8 + off, p, k);
        s->at += k, p += k, n -= k;
    }
}

static void stream_block_header(Stream *s, guint len, gboolean last)
{
    guint8 h[5] = {last ? 1 : 0, (guint8)len, (guint8)(len >> 8), (guint8)~len, (guint8)(~len >> 8)};
    stream_put(s, h, 5);
}

GBytes *dfs_png_encode(const DfsDisplay *d, GError **error)
{
    guint width = d->width, height = d->height, channels = d->channels;
    if (!shape_ok(width, height, channels) || d->pixels == NULL) {
        g_set_error_literal(error, DFS_ERROR, DFS_ERROR_IO, "PNG encoding failed");
        return NULL;
    }
    Window w;
    window_init(&w, width, height, channels);
    gsize zlib = zlib_bytes(width, height, channels);
    gsize size = file_bytes(zlib);
    guint8 *out = g_malloc(size);

    static const guint8 signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(out, signature, 8);
    guint8 *ihdr = out + 8;
    put_be32(ihdr + 8, width);
    put_be32(ihdr + 12, height);
    ihdr[16] = 8;                    /* bit depth */
    ihdr[17] = channels == 1 ? 0 : 2; /* gray, RGB */
    ihdr[18] = ihdr[19] = ihdr[20] = 0; /* deflate, no filters, not interlaced */
    seal_chunk(ihdr, "IHDR", 13);

    /* zlib header: CM 8, CINFO the window (2^(8+CINFO)), FLEVEL 0, FCHECK. */
    guint64 data = (guint64)height * w.row_bytes;
    guint cinfo = 0;
    while (cinfo < 7 && data > (G_GUINT64_CONSTANT(256) << cinfo))
        cinfo++;
    guint8 cmf = (guint8)(cinfo << 4 | 8);
    guint8 zhead[2] = {cmf, (guint8)(31 - (cmf * 256u) % 31)};
    Stream s = {out + HEAD_BYTES, 0};
    stream_put(&s, zhead, 2);

    /* Blocks, and in them the rows. */
    const guint8 zero = 0;
    guint64 row_bytes = w.row_bytes, y = 0, x = 0; /* x: bytes of row y written */
    uLong adler = adler32(0, NULL, 0);
    guint len;
    gboolean last;
    while (window_next_block(&w, &len, &last)) {
        stream_block_header(&s, len, last);
        for (guint64 left = len; left > 0;) {
            if (x == 0) {
                stream_put(&s, &zero, 1);
                adler = adler32(adler, &zero, 1);
                x = 1, left--;
                continue;
            }
            const guint8 *row = d->pixels + (gsize)y * (row_bytes - 1) + (x - 1);
            gsize k = (gsize)MIN(left, row_bytes - x);
            stream_put(&s, row, k);
            adler = adler32_z(adler, row, k);
            x += k, left -= k;
            if (x == row_bytes)
                x = 0, y++;
        }
    }
    guint8 trailer[4];
    put_be32(trailer, (guint32)adler);
    stream_put(&s, trailer, 4);

    for (gsize off = 0; off < zlib; off += IDAT_BYTES)
        seal_chunk(s.idat + off / IDAT_BYTES * (IDAT_BYTES + 12), "IDAT", MIN(IDAT_BYTES, zlib - off));
    seal_chunk(out + size - IEND_BYTES, "IEND", 0);
    return g_bytes_new_take(out, size);
}
