/* The fuzz targets without libFuzzer: run LLVMFuzzerTestOneInput over every
 * file named on the command line, or found (recursively) in the folders
 * named.  `meson test --suite fuzz` replays the corpora and tests/crashers/
 * this way.  Exit status 0 unless a file cannot be read; a broken invariant
 * traps and a crash kills the process. */
#include <stdio.h>

#include "fuzz.h"

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
    /* A copy of exactly len bytes, so that reads past the end are caught
     * (under ASan) as they are under libFuzzer. */
    g_autofree uint8_t *copy = g_memdup2(data, len);
    LLVMFuzzerTestOneInput(copy, len);
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
