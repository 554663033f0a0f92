/* dicomfs core: display images as PNG, through libpng.  See png.h. */
#include "pixels/png.h"

#include <png.h>

#include "base/error.h"

static void png_to_array(png_structp png, png_bytep data, png_size_t len)
{
    g_byte_array_append(png_get_io_ptr(png), data, (guint)len);
}

static void png_flush_nothing(png_structp png)
{
    (void)png;
}

static GBytes *encode(guint width, guint height, guint channels, const guint8 *pixels)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    GByteArray *out = g_byte_array_new();
    if (info == NULL || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        g_byte_array_unref(out);
        return NULL;
    }
    png_set_write_fn(png, out, png_to_array, png_flush_nothing);
    /* Stored (level 0), no filters: the size depends on the shape alone. */
    png_set_compression_level(png, 0);
    png_set_filter(png, 0, PNG_FILTER_NONE);
    png_set_IHDR(png, info, width, height, 8, channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (guint y = 0; y < height; y++)
        png_write_row(png, pixels ? pixels + (gsize)y * width * channels : NULL);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return g_byte_array_free_to_bytes(out);
}

GBytes *dfs_png_encode(const DfsDisplay *d, GError **error)
{
    GBytes *b = encode(d->width, d->height, d->channels, d->pixels);
    if (b == NULL)
        g_set_error_literal(error, DFS_ERROR, DFS_ERROR_IO, "PNG encoding failed");
    return b;
}

gsize dfs_png_size(guint width, guint height, guint channels)
{
    static GMutex lock;
    static GHashTable *sizes; /* "w x h x c" -> size */
    g_autofree char *key = g_strdup_printf("%ux%ux%u", width, height, channels);
    g_mutex_lock(&lock);
    if (sizes == NULL)
        sizes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    gpointer v = g_hash_table_lookup(sizes, key);
    g_mutex_unlock(&lock);
    if (v != NULL)
        return GPOINTER_TO_SIZE(v);
    /* Encode a blank image of the same shape once: with stored blocks the
     * bytes differ, their count does not. */
    g_autofree guint8 *zeros = g_malloc0((gsize)width * height * channels);
    g_autoptr(GBytes) b = encode(width, height, channels, zeros);
    gsize size = b ? g_bytes_get_size(b) : 0;
    g_mutex_lock(&lock);
    g_hash_table_insert(sizes, g_steal_pointer(&key), GSIZE_TO_POINTER(size));
    g_mutex_unlock(&lock);
    return size;
}
