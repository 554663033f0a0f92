/* dicomfs-tool: the core library on the command line, for people and tests.
 *
 *   dicomfs-tool dump  [--header-only] FILE     one line per element
 *   dicomfs-tool json  [--header-only] [--meta] [--pretty] FILE
 *   dicomfs-tool value [--header-only] FILE NAME   NAME: keyword or GGGGEEEE
 *   dicomfs-tool raw   FILE [FRAME]     decoded frames (FRAME from 0) as stored values
 *
 * Exit status: 0 on success, 1 when the file cannot be read (the reason on
 * stderr), 2 on usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dicom/dict.h"
#include "base/error.h"
#include "dicom/json.h"
#include "dicom/reader.h"
#include "dicom/render.h"
#include "pixels/decode.h"

static gboolean opt_header_only, opt_meta, opt_pretty;

static const GOptionEntry entries[] = {
    {"header-only", 'H', 0, G_OPTION_ARG_NONE, &opt_header_only, "Stop before Pixel Data", NULL},
    {"meta", 'm', 0, G_OPTION_ARG_NONE, &opt_meta, "json: include group 0002", NULL},
    {"pretty", 'p', 0, G_OPTION_ARG_NONE, &opt_pretty, "json: indent", NULL},
    {NULL},
};

static gboolean parse_tag(const char *name, guint32 *tag)
{
    const DfsDictEntry *d = dfs_dict_lookup_keyword(name);
    if (d != NULL && d->mask == 0xffffffffu) {
        *tag = d->tag;
        return TRUE;
    }
    char *end;
    if (strlen(name) != 8)
        return FALSE;
    *tag = (guint32)strtoul(name, &end, 16);
    return *end == '\0';
}

static int print_value(DfsDataset *ds, const char *name)
{
    guint32 tag;
    if (!parse_tag(name, &tag)) {
        g_printerr("dicomfs-tool: unknown keyword or tag '%s'\n", name);
        return 2;
    }
    guint i = dfs_dataset_find(ds, DFS_ROOT, tag);
    if (i == DFS_NO_INDEX) {
        g_printerr("dicomfs-tool: %s is not in the file\n", name);
        return 1;
    }
    g_autoptr(GString) s = g_string_new(NULL);
    dfs_render_value(ds, i, DFS_RENDER_DEFAULT, s);
    g_string_append_c(s, '\n');
    fwrite(s->str, 1, s->len, stdout);
    return 0;
}

/* All frames, or one, as little endian stored values. */
static int print_raw(DfsDataset *ds, const char *frame_arg)
{
    DfsImage img;
    g_autoptr(GError) error = NULL;
    if (!dfs_image_describe(ds, &img, &error)) {
        g_printerr("dicomfs-tool: %s\n", error->message);
        return 1;
    }
    char *end = NULL;
    guint64 f0 = frame_arg ? g_ascii_strtoull(frame_arg, &end, 10) : 0;
    if (frame_arg && (end == frame_arg || *end != '\0' || f0 >= img.frames)) {
        g_printerr("dicomfs-tool: frame '%s' is not one of 0..%u\n", frame_arg, img.frames - 1);
        return 2;
    }
    guint first = (guint)f0;
    guint last = frame_arg ? first + 1 : img.frames;
    g_autofree guint8 *buf = g_malloc(dfs_image_frame_bytes(&img));
    for (guint f = first; f < last; f++) {
        if (!dfs_image_decode(ds, &img, f, buf, &error)) {
            g_printerr("dicomfs-tool: frame %u: %s\n", f, error->message);
            return 1;
        }
        fwrite(buf, 1, dfs_image_frame_bytes(&img), stdout);
    }
    return 0;
}

static int run(const char *cmd, const char *path, const char *name)
{
    g_autoptr(GError) error = NULL;
    DfsReadFlags flags = opt_header_only ? DFS_READ_HEADER_ONLY : DFS_READ_FULL;
    g_autoptr(DfsDataset) ds = dfs_read_file(path, flags, &error);
    if (ds == NULL) {
        g_printerr("dicomfs-tool: %s: %s\n", path, error->message);
        return 1;
    }
    /* A damaged file is shown as far as it could be read, and said so. */
    g_autofree char *damage = dfs_dataset_damage_text(ds);
    if (damage != NULL)
        g_printerr("dicomfs-tool: %s: %s\n", path, damage);
    if (strcmp(cmd, "value") == 0)
        return print_value(ds, name);
    if (strcmp(cmd, "raw") == 0)
        return print_raw(ds, name);
    g_autoptr(GString) s = g_string_new(NULL);
    if (strcmp(cmd, "dump") == 0) {
        dfs_render_dump(ds, s);
    } else {
        DfsJsonOptions o = {.include_meta = opt_meta, .pretty = opt_pretty};
        dfs_render_json(ds, &o, s);
    }
    fwrite(s->str, 1, s->len, stdout);
    return 0;
}

int main(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new("dump|json|value|raw FILE [NAME|FRAME]");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(ctx, "Print a DICOM file's elements, JSON or one value.");
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        g_printerr("dicomfs-tool: %s\n", error->message);
        return 2;
    }
    gboolean ok = argc >= 3 && ((strcmp(argv[1], "value") == 0 && argc == 4) ||
                                (strcmp(argv[1], "raw") == 0 && argc <= 4) ||
                                ((strcmp(argv[1], "dump") == 0 || strcmp(argv[1], "json") == 0) &&
                                 argc == 3));
    if (!ok) {
        g_autofree char *help = g_option_context_get_help(ctx, TRUE, NULL);
        g_printerr("%s", help);
        return 2;
    }
    return run(argv[1], argv[2], argc == 4 ? argv[3] : NULL);
}
