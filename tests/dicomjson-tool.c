/* Test tool: a DICOM JSON array (PS3.18 F.2) on stdin, read by the QIDO
 * parser (web/qido.h), to Part 10 files (sources/dicomjson.h), for
 * tests/oracle/dicomjson_oracle.py.
 *
 *   dicomjson-tool [--ts UID] K          object K (from 0) to stdout
 *   dicomjson-tool [--ts UID] --dir DIR  object K to DIR/K.dcm, every K
 *
 * --ts: the transfer syntax of the files (default Explicit VR Little
 * Endian).  Exit 1 with a line on stderr on any error. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "sources/dicomjson.h"
#include "web/qido.h"

typedef struct {
    DfsDicomJson *j;
    GString *out;
    const char *ts;
    const char *dir; /* or NULL: only object `which`, to stdout */
    guint64 which;
    gboolean written;
} Tool;

static gboolean write_stdout(const GString *s, GError **error)
{
    if (fwrite(s->str, 1, s->len, stdout) != s->len || fflush(stdout) != 0) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "cannot write to stdout");
        return FALSE;
    }
    return TRUE;
}

static gboolean on_row(const DfsQidoRow *row, gpointer user, GError **error)
{
    Tool *t = user;
    if (t->dir == NULL && row->index != t->which)
        return TRUE;
    dfs_dicomjson_clear(t->j);
    dfs_dicomjson_add_row(t->j, row);
    if (!dfs_dicomjson_encode(t->j, t->ts, t->out, error))
        return FALSE;
    t->written = TRUE;
    if (t->dir == NULL)
        return write_stdout(t->out, error);
    g_autofree char *name = g_strdup_printf("%" G_GUINT64_FORMAT ".dcm", row->index);
    g_autofree char *path = g_build_filename(t->dir, name, NULL);
    return g_file_set_contents(path, t->out->str, (gssize)t->out->len, error);
}

static gboolean run(Tool *t, GError **error)
{
    g_autoptr(DfsQidoParser) p = dfs_qido_parser_new(0, on_row, t);
    guint8 buf[65536];
    ssize_t n;
    while ((n = read(STDIN_FILENO, buf, sizeof buf)) > 0)
        if (!dfs_qido_parser_feed(p, buf, (gsize)n, error))
            return FALSE;
    if (n < 0) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "cannot read stdin");
        return FALSE;
    }
    if (!dfs_qido_parser_finish(p, error))
        return FALSE;
    if (t->dir == NULL && !t->written) {
        g_set_error(error, DFS_ERROR, DFS_ERROR_NOT_FOUND, "no object %" G_GUINT64_FORMAT,
                    t->which);
        return FALSE;
    }
    return TRUE;
}

int main(int argc, char **argv)
{
    Tool t = {dfs_dicomjson_new(), g_string_new(NULL), NULL, NULL, 0, FALSE};
    int k = 1;
    if (k + 1 < argc && strcmp(argv[k], "--ts") == 0) {
        t.ts = argv[k + 1];
        k += 2;
    }
    if (k + 1 < argc && strcmp(argv[k], "--dir") == 0)
        t.dir = argv[k + 1];
    else if (k + 1 == argc)
        t.which = g_ascii_strtoull(argv[k], NULL, 10);
    else {
        fprintf(stderr, "usage: dicomjson-tool [--ts UID] (K | --dir DIR) < array.json\n");
        return 2;
    }
    g_autoptr(GError) error = NULL;
    gboolean ok = run(&t, &error);
    if (!ok)
        fprintf(stderr, "dicomjson-tool: %s\n", error->message);
    dfs_dicomjson_free(t.j);
    g_string_free(t.out, TRUE);
    return ok ? 0 : 1;
}
