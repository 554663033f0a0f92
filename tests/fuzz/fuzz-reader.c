/* Fuzz target for the reader: the input as a file, read header-only and in
 * full from memory, and header-only from a file descriptor (the pread path
 * a mount's scan takes, growing its reads as the parser asks).  Each
 * dataset is dumped and rendered as JSON (valid UTF-8 both); the two
 * header-only reads must agree, and agree with the whole read up to Pixel
 * Data (the elements, and where a damaged file stops); no read keeps more
 * elements than the bytes can hold.  See fuzz.h for how it is built and run. */
#include <unistd.h>

#include "fuzz.h"
#include "dicom/json.h"
#include "dicom/reader.h"
#include "dicom/render.h"

/* The dump of the dataset, or NULL where reading failed (with a reason). */
static GString *exercise(DfsDataset *ds, GError *error)
{
    if (ds == NULL) {
        FUZZ_CHECK_REASON(error);
        return NULL;
    }
    GString *dump = g_string_new(NULL);
    dfs_render_dump(ds, dump);
    FUZZ_CHECK(g_utf8_validate(dump->str, (gssize)dump->len, NULL));
    g_autoptr(GString) json = g_string_new(NULL);
    DfsJsonOptions o = {.include_meta = TRUE};
    dfs_render_json(ds, &o, json);
    FUZZ_CHECK(g_utf8_validate(json->str, (gssize)json->len, NULL));
    return dump;
}

static GString *read_bytes(GBytes *bytes, DfsReadFlags flags)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = dfs_read_bytes(bytes, flags, &error);
    return exercise(ds, error);
}

static GString *read_fd(int fd)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = dfs_read_fd(fd, DFS_READ_HEADER_ONLY, &error);
    return exercise(ds, error);
}

/* Every element and item takes 8 bytes at least: a reader that keeps what
 * it could read of a damaged file never makes more. */
static void check_bounded(const DfsDataset *ds, size_t size)
{
    const char *ts = dfs_dataset_transfer_syntax(ds);
    if (g_str_has_prefix(ts, "1.2.840.10008.1.2.1.99") || g_str_equal(ts, "1.2.840.10008.1.2.4.95"))
        return; /* deflated: the elements are in the inflated stream */
    FUZZ_CHECK((guint64)dfs_dataset_n_elements(ds) * 8 <= size);
}

/* The header-only read is the whole read up to Pixel Data: the same
 * elements, and the same damage wherever it lies before Pixel Data. */
static void check_partial(const DfsDataset *header, const DfsDataset *full)
{
    guint64 h_at = 0, f_at = 0;
    gboolean h_damaged = dfs_dataset_damage(header, &h_at) != NULL;
    gboolean f_damaged = dfs_dataset_damage(full, &f_at) != NULL;
    guint px = dfs_dataset_pixel_data(header);
    guint n = px != DFS_NO_INDEX ? px : dfs_dataset_n_elements(header);
    FUZZ_CHECK(n <= dfs_dataset_n_elements(full));
    for (guint i = 0; i < n && i < dfs_dataset_n_elements(full); i++) {
        const DfsElement *a = dfs_dataset_element(header, i), *b = dfs_dataset_element(full, i);
        FUZZ_CHECK(a->tag == b->tag && a->vr == b->vr && a->depth == b->depth &&
                   a->offset == b->offset && a->parent == b->parent);
    }
    if (h_damaged) /* damage the header-only read met, the whole read meets too */
        FUZZ_CHECK(f_damaged && f_at == h_at && dfs_dataset_n_elements(full) == n);
    if (f_damaged && px == DFS_NO_INDEX) /* no Pixel Data: the header-only read saw it all */
        FUZZ_CHECK(h_damaged && h_at == f_at);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GBytes *bytes = g_bytes_new_static(data, size);
    GString *header = read_bytes(bytes, DFS_READ_HEADER_ONLY);
    GString *full = read_bytes(bytes, DFS_READ_FULL);
    {
        g_autoptr(DfsDataset) h = dfs_read_bytes(bytes, DFS_READ_HEADER_ONLY, NULL);
        g_autoptr(DfsDataset) f = dfs_read_bytes(bytes, DFS_READ_FULL, NULL);
        if (h != NULL)
            check_bounded(h, size);
        if (f != NULL)
            check_bounded(f, size);
        if (h != NULL && f != NULL)
            check_partial(h, f);
    }
    g_bytes_unref(bytes);

    int fd = fuzz_memfd(data, size);
    if (fd >= 0) {
        GString *from_fd = read_fd(fd);
        close(fd);
        /* The same header, whether the bytes are in memory or read as needed. */
        FUZZ_CHECK((from_fd == NULL) == (header == NULL));
        FUZZ_CHECK(from_fd == NULL || g_string_equal(from_fd, header));
        if (from_fd != NULL)
            g_string_free(from_fd, TRUE);
    }
    if (header != NULL)
        g_string_free(header, TRUE);
    if (full != NULL)
        g_string_free(full, TRUE);
    return 0;
}
