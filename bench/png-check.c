/* png-check: dfs_png_encode() and dfs_png_size() against libpng.
 *
 * core/pixels/png.c writes its PNGs itself, meaning to give the very bytes
 * that libpng (compression level 0, no filters) wrote before.  This encodes
 * random images of many shapes both ways and compares them byte for byte,
 * and the size against dfs_png_size(): every shape up to 300 x 40, rows
 * that fill the 32 and 64 KiB marks of the deflate window and pass them,
 * streams whose last IDAT chunk is full, libpng's width limit, and random
 * shapes up to 16 M samples.
 *
 * Then it times both on a 512 x 512 gray slice.
 *
 *   png-check [RANDOM_SHAPES=400]      exit 0 when every shape matched */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "pixels/png.h"

static void to_array(png_structp png, png_bytep data, png_size_t len)
{
    g_byte_array_append(png_get_io_ptr(png), data, (guint)len);
}

static void flush_nothing(png_structp png)
{
    (void)png;
}

/* Refusals are expected (the size limits): no messages. */
static void quiet_error(png_structp png, png_const_charp msg)
{
    (void)msg;
    png_longjmp(png, 1);
}

static void quiet_warning(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg;
}

/* The PNG as dicomfs wrote it through libpng, or NULL where libpng refused. */
static GBytes *libpng_encode(guint width, guint height, guint channels, const guint8 *pixels)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, quiet_error, quiet_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    GByteArray *out = g_byte_array_new();
    if (info == NULL || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        g_byte_array_unref(out);
        return NULL;
    }
    png_set_write_fn(png, out, to_array, flush_nothing);
    png_set_compression_level(png, 0);
    png_set_filter(png, 0, PNG_FILTER_NONE);
    png_set_IHDR(png, info, width, height, 8, channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (guint y = 0; y < height; y++)
        png_write_row(png, pixels + (gsize)y * width * channels);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return g_byte_array_free_to_bytes(out);
}

static GRand *rng;
static guint checked, failed, full_last_idat;

static void check(guint width, guint height, guint channels)
{
    gsize n = (gsize)width * height * channels;
    guint8 *pixels = g_malloc(n ? n : 1);
    for (gsize k = 0; k < n; k++)
        pixels[k] = (guint8)g_rand_int(rng);
    DfsDisplay d = {width, height, channels, pixels};
    g_autoptr(GBytes) want = libpng_encode(width, height, channels, pixels);
    g_autoptr(GBytes) got = dfs_png_encode(&d, NULL);
    gsize size = dfs_png_size(width, height, channels);
    gboolean ok = want == NULL ? got == NULL && size == 0
                               : got != NULL && g_bytes_equal(want, got) &&
                                     size == g_bytes_get_size(want);
    checked++;
    if (want != NULL && (g_bytes_get_size(want) - 8 - 25 - 12) % (8192 + 12) == 0)
        full_last_idat++;
    if (!ok) {
        failed++;
        if (failed <= 20)
            fprintf(stderr, "MISMATCH %ux%ux%u: libpng %zd bytes, ours %zd, dfs_png_size %zu\n",
                    width, height, channels, want ? (gssize)g_bytes_get_size(want) : -1,
                    got ? (gssize)g_bytes_get_size(got) : -1, size);
    }
    g_free(pixels);
}

int main(int argc, char **argv)
{
    guint random_shapes = argc > 1 ? (guint)atoi(argv[1]) : 400;
    rng = g_rand_new_with_seed(12);
    for (guint c = 1; c <= 3; c += 2) {
        for (guint w = 1; w <= 300; w++)
            for (guint h = 1; h <= 40; h++)
                check(w, h, c);
        /* Rows (width x c + 1 bytes) around 16, 32 and 64 KiB and beyond:
         * whole rows make the blocks, or rows are split across them. */
        static const guint rows[] = {8192, 16383, 16384, 16385, 21845, 21846, 32766, 32767,
                                     32768, 32769, 43690, 65530, 65531, 65532, 65535, 65536,
                                     65537, 98303, 98304, 131072, 200001, 300000};
        for (guint k = 0; k < G_N_ELEMENTS(rows); k++)
            for (gint dw = -1; dw <= 1; dw++) {
                guint w = (rows[k] - 1) / c + (guint)dw;
                for (guint h = 1; h <= 6; h++)
                    check(w, h, c);
                check(w, 17, c);
            }
        static const guint widths[] = {63, 64, 127, 128, 255, 256, 511, 512, 513, 1000, 1023, 1024,
                                       2048, 4095, 4096};
        static const guint heights[] = {1, 2, 63, 64, 65, 100, 127, 128, 129, 255, 256, 512, 1000};
        for (guint i = 0; i < G_N_ELEMENTS(widths); i++)
            for (guint j = 0; j < G_N_ELEMENTS(heights); j++)
                check(widths[i], heights[j], c);
        /* Streams that fill their last IDAT chunk exactly. */
        guint found = 0;
        for (guint w = 1; w <= 3000 && found < 40; w++)
            for (guint h = 1; h <= 3000 && found < 40; h++) {
                gsize size = dfs_png_size(w, h, c);
                if ((size - 8 - 25 - 12) % (8192 + 12) == 0) {
                    check(w, h, c);
                    found++;
                }
            }
        /* libpng's limit: a million pixels a side. */
        check(1000000, 1, c);
        check(1000001, 1, c);
        check(1, 1000000, c);
        check(1, 1000001, c);
        check(2, 65535, c);
    }
    for (guint k = 0; k < random_shapes; k++) {
        guint c = g_rand_boolean(rng) ? 3 : 1;
        guint w = (guint)g_rand_int_range(rng, 1, 4097), h = (guint)g_rand_int_range(rng, 1, 4097);
        if (g_rand_boolean(rng))
            h = MAX(1, h / 16);
        if ((guint64)w * h * c > 16u << 20)
            h = (guint)((16u << 20) / ((guint64)w * c));
        check(w, h, c);
    }
    /* And the time of each on a 512 x 512 slice (CPU ms per PNG). */
    DfsDisplay d = {512, 512, 1, g_malloc(512 * 512)};
    for (gsize k = 0; k < 512 * 512; k++)
        d.pixels[k] = (guint8)g_rand_int(rng);
    double t[2];
    for (int which = 0; which < 2; which++) {
        double c0 = (double)clock() / CLOCKS_PER_SEC;
        for (int r = 0; r < 200; r++) {
            GBytes *b = which ? dfs_png_encode(&d, NULL) : libpng_encode(512, 512, 1, d.pixels);
            g_bytes_unref(b);
        }
        t[which] = ((double)clock() / CLOCKS_PER_SEC - c0) / 200 * 1e3;
    }
    g_free(d.pixels);
    double c0 = (double)clock() / CLOCKS_PER_SEC;
    gsize sum = 0;
    for (int r = 0; r < 100000; r++)
        sum += dfs_png_size(512, 512, 1);
    double size_us = ((double)clock() / CLOCKS_PER_SEC - c0) / 100000 * 1e6;
    printf("png-check: 512x512 gray, CPU ms per PNG: libpng %.3f, dfs_png_encode %.3f; "
           "dfs_png_size %.2f us (%zu bytes)\n", t[0], t[1], size_us, sum / 100000);
    printf("png-check: %u shapes, %u identical to libpng %s (zlib %s), %u differing; "
           "%u with a full last IDAT chunk\n",
           checked, checked - failed, PNG_LIBPNG_VER_STRING, zlibVersion(), failed, full_last_idat);
    g_rand_free(rng);
    return failed ? 1 : 0;
}
