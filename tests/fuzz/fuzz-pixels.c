/* Fuzz target for pixels: every decoder and the PNG path (image.h,
 * codec.h, display.h), as the mount's pixel files use them.
 *
 * The input is read as DICOM in full; its image is described, every frame
 * decoded (and one past the last refused), rendered for display and
 * encoded as PNG, whose size must be dfs_png_size()'s.  Then the input is
 * read header-only from a file descriptor, as the mount reads native pixel
 * data (by offset, with pread): frames that decode both ways must be the
 * same bytes.  See fuzz.h. */
#include <string.h>
#include <unistd.h>

#include "pixels/display.h"
#include "pixels/decode.h"
#include "pixels/png.h"
#include "fuzz.h"
#include "dicom/reader.h"

/* Frames kept from the full read to compare with the header-only one. */
#define COMPARE_FRAMES 4

typedef struct {
    DfsImage img;
    GBytes *frames[COMPARE_FRAMES];
} Decoded;

static void render_png(const DfsDataset *ds, const DfsImage *img, const guint8 *frame)
{
    DfsDisplay d = {0};
    g_autoptr(GError) error = NULL;
    if (!dfs_display_render(ds, img, frame, &d, &error)) {
        FUZZ_CHECK_REASON(error);
        dfs_display_clear(&d);
        return;
    }
    FUZZ_CHECK(d.width == img->columns && d.height == img->rows);
    FUZZ_CHECK(d.channels == 1 || d.channels == 3);
    g_autoptr(GBytes) png = dfs_png_encode(&d, &error);
    FUZZ_CHECK(png != NULL);
    FUZZ_CHECK(g_bytes_get_size(png) == dfs_png_size(d.width, d.height, d.channels));
    dfs_display_clear(&d);
}

/* Describe and decode every frame of ds; with png, render each too.  Keeps
 * the first COMPARE_FRAMES decoded frames in out (when not NULL). */
static void decode_all(const DfsDataset *ds, gboolean png, Decoded *out)
{
    DfsImage img;
    g_autoptr(GError) error = NULL;
    if (!dfs_image_describe(ds, &img, &error)) {
        FUZZ_CHECK_REASON(error);
        return;
    }
    FUZZ_CHECK(dfs_image_dtype(&img) != NULL);
    gsize fb = dfs_image_frame_bytes(&img);
    FUZZ_CHECK(fb > 0 && fb == (gsize)img.rows * img.columns * img.samples *
                                   dfs_image_sample_bytes(&img));
    if (out != NULL)
        memcpy(&out->img, &img, sizeof img); /* padding too: compared with memcmp */
    g_autofree guint8 *frame = g_malloc(fb);
    for (guint f = 0; f < img.frames; f++) {
        g_autoptr(GError) e = NULL;
        if (!dfs_image_decode(ds, &img, f, frame, &e)) {
            FUZZ_CHECK_REASON(e);
            continue;
        }
        if (out != NULL && f < COMPARE_FRAMES)
            out->frames[f] = g_bytes_new(frame, fb);
        if (png)
            render_png(ds, &img, frame);
    }
    g_autoptr(GError) past = NULL;
    FUZZ_CHECK(!dfs_image_decode(ds, &img, img.frames, frame, &past));
    FUZZ_CHECK_REASON(past);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Decoded full = {0};
    g_autoptr(GBytes) bytes = g_bytes_new_static(data, size);
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = dfs_read_bytes(bytes, DFS_READ_FULL, &error);
    if (ds != NULL)
        decode_all(ds, TRUE, &full);
    else
        FUZZ_CHECK_REASON(error);

    int fd = fuzz_memfd(data, size);
    if (fd >= 0) {
        g_autoptr(GError) e = NULL;
        DfsDataset *header = dfs_read_fd(fd, DFS_READ_HEADER_ONLY, &e);
        DfsImage img;
        Decoded part = {0};
        /* The mount decodes native pixel data from header-only datasets. */
        if (header != NULL && dfs_image_describe(header, &img, NULL) &&
            img.codec == DFS_CODEC_NATIVE) {
            decode_all(header, FALSE, &part);
            gboolean same_image = memcmp(&part.img, &full.img, sizeof img) == 0;
            for (guint f = 0; f < COMPARE_FRAMES; f++) {
                if (same_image && part.frames[f] != NULL && full.frames[f] != NULL)
                    FUZZ_CHECK(g_bytes_equal(part.frames[f], full.frames[f]));
                g_clear_pointer(&part.frames[f], g_bytes_unref);
            }
        }
        if (header != NULL)
            dfs_dataset_free(header);
        else
            FUZZ_CHECK_REASON(e);
        close(fd);
    }
    for (guint f = 0; f < COMPARE_FRAMES; f++)
        g_clear_pointer(&full.frames[f], g_bytes_unref);
    return 0;
}
