/* Reader benchmark: the figures of issue 2, printed for scripts/bench-reader.
 *
 *   bench-reader parse FILE [SECONDS]   header-only parse from memory, CPU us/file
 *   bench-reader scan DIR               header-only read of every file under DIR
 *                                       (one thread), files/s and CPU us/file
 *   bench-reader index DIR              the mount's whole scan into an index
 *   bench-reader png FILE [ROUNDS]      read, decode and render frame 1 as PNG */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pixels/display.h"
#include "pixels/decode.h"
#include "pixels/png.h"
#include "dicom/reader.h"
#include "catalog/scan.h"

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int bench_parse(const char *path, double seconds)
{
    g_autofree char *data = NULL;
    gsize len;
    g_autoptr(GError) error = NULL;
    if (!g_file_get_contents(path, &data, &len, &error)) {
        fprintf(stderr, "%s\n", error->message);
        return 1;
    }
    g_autoptr(GBytes) bytes = g_bytes_new_static(data, len);
    guint elements = 0;
    guint64 n = 0;
    double t0 = cpu_now(), t;
    do {
        for (int k = 0; k < 1000; k++) {
            DfsDataset *ds = dfs_read_bytes(bytes, DFS_READ_HEADER_ONLY, &error);
            if (ds == NULL) {
                fprintf(stderr, "%s\n", error->message);
                return 1;
            }
            elements = dfs_dataset_n_elements(ds);
            dfs_dataset_free(ds);
        }
        n += 1000;
        t = cpu_now() - t0;
    } while (t < seconds);
    printf("parse\t%s\t%" G_GSIZE_FORMAT " bytes\t%u elements\t%.3f us/file\n", path, len,
           elements, t / (double)n * 1e6);
    return 0;
}

static void collect(const char *dir, GPtrArray *out)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
        char *p = g_build_filename(dir, name, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_DIR)) {
            collect(p, out);
            g_free(p);
        } else {
            g_ptr_array_add(out, p);
        }
    }
}

static int bench_scan(const char *dir)
{
    double w0 = wall_now(), c0 = cpu_now();
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
    collect(dir, files);
    guint ok = 0;
    for (guint k = 0; k < files->len; k++) {
        DfsDataset *ds = dfs_read_file(files->pdata[k], DFS_READ_HEADER_ONLY, NULL);
        ok += ds != NULL;
        dfs_dataset_free(ds);
    }
    double wall = wall_now() - w0, cpu = cpu_now() - c0;
    printf("scan\t%s\t%u files\t%u read\t%.3f s\t%.0f files/s\t%.2f us cpu/file\n", dir,
           files->len, ok, wall, files->len / wall, cpu / files->len * 1e6);
    return ok == files->len ? 0 : 1;
}

/* The whole scan as the mount does it: walk, parallel header reads, index. */
static int bench_index(const char *dir)
{
    double w0 = wall_now(), c0 = cpu_now();
    DfsScanCounts counts;
    g_autoptr(GError) error = NULL;
    DfsIndex *idx = dfs_scan(dir, NULL, NULL, NULL, &counts, &error);
    if (idx == NULL) {
        fprintf(stderr, "%s\n", error->message);
        return 1;
    }
    double wall = wall_now() - w0, cpu = cpu_now() - c0;
    printf("index\t%s\t%u files\t%u indexed\t%.3f s\t%.0f files/s\t%.2f us cpu/file\n", dir,
           counts.files_seen, counts.indexed, wall, counts.files_seen / wall,
           cpu / counts.files_seen * 1e6);
    dfs_index_unref(idx);
    return 0;
}

/* One frame to PNG as the mount does it: full read, decode, display, PNG. */
static int bench_png(const char *path, int rounds)
{
    double c0 = cpu_now();
    gsize bytes = 0;
    for (int r = 0; r < rounds; r++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(DfsDataset) ds = dfs_read_file(path, DFS_READ_FULL, &error);
        DfsImage img;
        if (ds == NULL || !dfs_image_describe(ds, &img, &error)) {
            fprintf(stderr, "%s\n", error->message);
            return 1;
        }
        g_autofree guint8 *frame = g_malloc(dfs_image_frame_bytes(&img));
        DfsDisplay d = {0};
        if (!dfs_image_decode(ds, &img, 0, frame, &error) ||
            !dfs_display_render(ds, &img, frame, &d, &error)) {
            fprintf(stderr, "%s\n", error->message);
            return 1;
        }
        g_autoptr(GBytes) png = dfs_png_encode(&d, &error);
        bytes = g_bytes_get_size(png);
        dfs_display_clear(&d);
    }
    printf("png\t%s\t%zu bytes\t%.3f ms/frame\n", path, bytes, (cpu_now() - c0) / rounds * 1e3);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "parse") == 0)
        return bench_parse(argv[2], argc > 3 ? atof(argv[3]) : 2.0);
    if (argc == 3 && strcmp(argv[1], "scan") == 0)
        return bench_scan(argv[2]);
    if (argc == 3 && strcmp(argv[1], "index") == 0)
        return bench_index(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "png") == 0)
        return bench_png(argv[2], argc > 3 ? atoi(argv[3]) : 50);
    fprintf(stderr, "usage: bench-reader parse FILE [SECONDS] | scan DIR | index DIR | png FILE [N]\n");
    return 2;
}
