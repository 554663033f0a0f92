/* dicomfs core: the tables by range.  See tables.h. */
#include "catalog/tables.h"

#define TABLE_CHUNK_ROWS 64

typedef struct {
    guint64 size;
    guint64 header;     /* the header row's length */
    GArray *first_row;  /* guint: the first row of each chunk */
    GArray *offset;     /* guint64: where it starts */
} Layout;

static void layout_free(gpointer p)
{
    Layout *l = p;
    g_array_unref(l->first_row);
    g_array_unref(l->offset);
    g_free(l);
}

static const Layout *layout_of(const DfsIndex *idx, DfsIndexTable table)
{
    const Layout *done = dfs_index_get_extra(idx, table);
    if (done != NULL)
        return done;
    Layout *l = g_new0(Layout, 1);
    l->first_row = g_array_new(FALSE, FALSE, sizeof(guint));
    l->offset = g_array_new(FALSE, FALSE, sizeof(guint64));
    GString *header = g_string_sized_new(256);
    dfs_index_write_header(table, header);
    l->header = l->size = header->len;
    g_string_free(header, TRUE);
    guint n = 0;
    for (guint r = dfs_index_next_row(idx, table, 0); r != DFS_NO_INDEX;
         r = dfs_index_next_row(idx, table, r + 1), n++) {
        if (n % TABLE_CHUNK_ROWS == 0) {
            g_array_append_val(l->first_row, r);
            g_array_append_val(l->offset, l->size);
        }
        l->size += dfs_index_row_length(idx, table, r); /* measured, not written */
    }
    return dfs_index_set_extra(idx, table, l, layout_free);
}

guint64 dfs_table_size(const DfsIndex *idx, DfsIndexTable table)
{
    return layout_of(idx, table)->size;
}

/* Append the part of [pos, pos + len(text)) that falls in [from, to). */
static void overlap(GString *out, const GString *text, guint64 pos, guint64 from, guint64 to)
{
    guint64 end = pos + text->len;
    if (end <= from || pos >= to)
        return;
    guint64 a = MAX(pos, from), b = MIN(end, to);
    g_string_append_len(out, text->str + (a - pos), (gssize)(b - a));
}

/* The last chunk that starts at or before offset (0 if none does). */
static guint chunk_at(const Layout *l, guint64 offset)
{
    guint lo = 0, hi = l->offset->len; /* the answer is in [lo, hi) */
    while (hi - lo > 1) {
        guint mid = lo + (hi - lo) / 2;
        if (g_array_index(l->offset, guint64, mid) <= offset)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

void dfs_table_read(const DfsIndex *idx, DfsIndexTable table, guint64 offset, gsize length,
                    GString *out, guint64 *rendered)
{
    const Layout *l = layout_of(idx, table);
    guint64 to = offset + MIN((guint64)length, l->size - MIN(offset, l->size));
    if (offset >= to)
        return;
    GString *row = g_string_sized_new(512);
    if (offset < l->header) {
        dfs_index_write_header(table, row);
        overlap(out, row, 0, offset, to);
    }
    if (l->first_row->len > 0 && to > l->header) {
        guint c = chunk_at(l, offset);
        guint64 pos = g_array_index(l->offset, guint64, c);
        for (guint r = g_array_index(l->first_row, guint, c); r != DFS_NO_INDEX && pos < to;
             r = dfs_index_next_row(idx, table, r + 1)) {
            g_string_truncate(row, 0);
            dfs_index_write_row(idx, table, r, row);
            overlap(out, row, pos, offset, to);
            pos += row->len;
            *rendered += row->len;
        }
    }
    g_string_free(row, TRUE);
}
