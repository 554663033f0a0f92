/* Test helper: DICOM data sets built byte by byte.  See builder.h. */
#include "builder.h"

#include <string.h>

#include "dicom/tags.h"

void enc_put16(TestEnc *e, guint16 v)
{
    guint8 x[2] = {e->big ? v >> 8 : v & 0xff, e->big ? v & 0xff : v >> 8};
    g_byte_array_append(e->b, x, 2);
}

void enc_put32(TestEnc *e, guint32 v)
{
    if (e->big) {
        enc_put16(e, v >> 16);
        enc_put16(e, v & 0xffff);
    } else {
        enc_put16(e, v & 0xffff);
        enc_put16(e, v >> 16);
    }
}

void enc_tag(TestEnc *e, guint32 tag)
{
    enc_put16(e, tag >> 16);
    enc_put16(e, tag & 0xffff);
}

/* Element header: explicit or implicit per e->implicit (PS3.5 7.1). */
void enc_header(TestEnc *e, guint32 tag, const char *vr, guint32 len)
{
    enc_tag(e, tag);
    if (e->implicit) {
        enc_put32(e, len);
        return;
    }
    g_byte_array_append(e->b, (const guint8 *)vr, 2);
    DfsVr v = dfs_vr_from_bytes(vr[0], vr[1]);
    if (dfs_vr_has_long_length(v)) {
        enc_put16(e, 0);
        enc_put32(e, len);
    } else {
        enc_put16(e, (guint16)len);
    }
}

void enc_element(TestEnc *e, guint32 tag, const char *vr, const void *v, guint32 len)
{
    enc_header(e, tag, vr, len);
    g_byte_array_append(e->b, v, len);
}

void enc_text(TestEnc *e, guint32 tag, const char *vr, const char *s)
{
    gsize n = strlen(s);
    enc_header(e, tag, vr, (guint32)(n + (n & 1)));
    g_byte_array_append(e->b, (const guint8 *)s, n);
    if (n & 1)
        g_byte_array_append(e->b, (const guint8 *)(strcmp(vr, "UI") == 0 ? "\0" : " "), 1);
}

void enc_item(TestEnc *e, guint32 len)
{
    enc_tag(e, DFS_TAG_ITEM);
    enc_put32(e, len);
}

void enc_delim(TestEnc *e, guint32 tag)
{
    enc_tag(e, tag);
    enc_put32(e, 0);
}

/* Preamble, DICM and a meta group naming the transfer syntax. */
TestEnc enc_part10(const char *ts)
{
    TestEnc e = {g_byte_array_new(), FALSE, FALSE};
    guint8 pre[128] = {0};
    g_byte_array_append(e.b, pre, 128);
    g_byte_array_append(e.b, (const guint8 *)"DICM", 4);
    enc_text(&e, DFS_TAG_TRANSFER_SYNTAX_UID, "UI", ts);
    return e;
}

DfsDataset *enc_read(TestEnc *e, DfsReadFlags flags, GError **error)
{
    GBytes *bytes = g_byte_array_free_to_bytes(e->b);
    e->b = NULL;
    DfsDataset *ds = dfs_read_bytes(bytes, flags, error);
    g_bytes_unref(bytes);
    return ds;
}

