/* Fuzz target for the reader: the input as a file, read header-only and in
 * full from memory, and header-only from a file descriptor (the pread path
 * a mount's scan takes, growing its reads as the parser asks).  Each
 * dataset is dumped and rendered as JSON (valid UTF-8 both); the two
 * header-only reads must agree.  See fuzz.h for how it is built and run. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GBytes *bytes = g_bytes_new_static(data, size);
    GString *header = read_bytes(bytes, DFS_READ_HEADER_ONLY);
    GString *full = read_bytes(bytes, DFS_READ_FULL);
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
