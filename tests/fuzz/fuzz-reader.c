/* Fuzz target for the reader and the renderers.
 *
 * Built with clang's libFuzzer when meson is configured with -Dfuzzing=true
 * (see README "Fuzzing").  Otherwise the same entry point is driven by the
 * plain main() below over the files and folders named on the command line,
 * which is how `meson test` replays the corpus and tests/crashers/. */
#include <stdint.h>
#include <stdio.h>

#include "json.h"
#include "reader.h"
#include "render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(GBytes *bytes, DfsReadFlags flags)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(DfsDataset) ds = dfs_read_bytes(bytes, flags, &error);
    if (ds == NULL) {
        /* Every failure must say why, in our domain. */
        if (error == NULL || error->message == NULL || error->message[0] == '\0')
            __builtin_trap();
        return;
    }
    g_autoptr(GString) s = g_string_new(NULL);
    dfs_render_dump(ds, s);
    if (!g_utf8_validate(s->str, (gssize)s->len, NULL))
        __builtin_trap();
    g_string_truncate(s, 0);
    DfsJsonOptions o = {.include_meta = TRUE};
    dfs_render_json(ds, &o, s);
    if (!g_utf8_validate(s->str, (gssize)s->len, NULL))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    GBytes *bytes = g_bytes_new_static(data, size);
    exercise(bytes, DFS_READ_HEADER_ONLY);
    exercise(bytes, DFS_READ_FULL);
    g_bytes_unref(bytes);
    return 0;
}

#ifndef DFS_LIBFUZZER
static int run_path(const char *path, guint *count)
{
    if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
        g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
        const char *name;
        int rc = 0;
        while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            rc |= run_path(child, count);
        }
        return rc;
    }
    g_autofree char *data = NULL;
    gsize len;
    g_autoptr(GError) error = NULL;
    if (!g_file_get_contents(path, &data, &len, &error)) {
        fprintf(stderr, "%s: %s\n", path, error->message);
        return 1;
    }
    LLVMFuzzerTestOneInput((const uint8_t *)data, len);
    (*count)++;
    return 0;
}

int main(int argc, char **argv)
{
    guint count = 0;
    int rc = 0;
    for (int k = 1; k < argc; k++)
        rc |= run_path(argv[k], &count);
    printf("ran %u inputs\n", count);
    return rc;
}
#endif
