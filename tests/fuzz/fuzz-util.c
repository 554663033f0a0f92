/* Helpers shared by the fuzz targets.  See fuzz.h. */
#define _GNU_SOURCE /* memfd_create */
#include "fuzz.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int fuzz_memfd(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz-input", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    return fd;
}

gboolean fuzz_image_take(const uint8_t **data, size_t *size, DfsCodec codec, guint64 max_pixels,
                         DfsImage *img)
{
    static const char *const photometric[] = {"MONOCHROME2", "MONOCHROME1", "RGB",
                                              "YBR_FULL",    "YBR_FULL_422", "YBR_ICT",
                                              "YBR_RCT",     "PALETTE COLOR"};
    if (*size < FUZZ_IMAGE_HEADER)
        return FALSE;
    const uint8_t *h = *data;
    memset(img, 0, sizeof *img);
    img->rows = (guint32)h[0] | (guint32)h[1] << 8;
    img->columns = (guint32)h[2] | (guint32)h[3] << 8;
    img->samples = h[4];
    img->bits_allocated = h[5];
    img->bits_stored = h[6];
    img->high_bit = h[7];
    img->is_signed = h[8] & 1;
    img->planar = (h[8] >> 1) & 1;
    img->frames = 1;
    img->codec = codec;
    g_strlcpy(img->photometric, photometric[(h[8] >> 2) & 7], sizeof img->photometric);
    g_strlcpy(img->decoded_photometric, img->photometric, sizeof img->decoded_photometric);
    *data += FUZZ_IMAGE_HEADER;
    *size -= FUZZ_IMAGE_HEADER;
    /* What dfs_image_describe() accepts (image.c, check()). */
    guint ba = img->bits_allocated;
    if (img->rows == 0 || img->columns == 0 ||
        (guint64)img->rows * img->columns > max_pixels)
        return FALSE;
    if (img->samples != 1 && img->samples != 3 && img->samples != 4)
        return FALSE;
    if (!(ba == 1 || ba == 8 || ba == 16 || ba == 32 || ba == 64))
        return FALSE;
    return img->bits_stored >= 1 && img->bits_stored <= ba && img->high_bit < ba &&
           img->high_bit + 1 >= img->bits_stored;
}

/* Up to 4 Mi pixels: room for real images, fast enough for fuzzing. */
#define CODEC_MAX_PIXELS (1u << 22)

void fuzz_codec(const uint8_t *data, size_t size, DfsCodec codec, const FuzzDecoder *decoders,
                guint n)
{
    DfsImage img;
    if (!fuzz_image_take(&data, &size, codec, CODEC_MAX_PIXELS, &img))
        return;
    gsize fb = dfs_image_frame_bytes(&img);
    g_autofree guint8 *out = g_malloc(fb);
    for (guint k = 0; k < n; k++) {
        g_autoptr(GError) error = NULL;
        if (!decoders[k](&img, data, size, out, &error))
            FUZZ_CHECK_REASON(error);
    }
}
