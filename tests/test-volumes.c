/* Unit tests of core/volumes/: the CSA header reader on blobs written here
 * by the SV10 layout (and every truncation and a few lies of them), the
 * ASCCONV reader on protocol text written here (and every cut of it, huge
 * lines, missing quotes, too many keys), and
 * plans of slices made by hand: slice order, 4D, the affine against the
 * NIfTI and DICOM definitions worked out by hand, refusals, and voxels
 * read by range equal to the whole read. */
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "volumes/ascconv.h"
#include "volumes/csa.h"
#include "volumes/nifti.h"
#include "volumes/plan.h"

/* --- CSA --------------------------------------------------------------------- */

static void put_u32(GByteArray *b, guint32 v)
{
    guint8 x[4] = {v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF, v >> 24};
    g_byte_array_append(b, x, 4);
}

/* One SV10 element: name, VM, VR, type, items (text), each item padded to
 * four bytes. */
static void put_element(GByteArray *b, const char *name, const char *const *items, guint n)
{
    guint8 field[64] = {0};
    memcpy(field, name, strlen(name));
    g_byte_array_append(b, field, 64);
    put_u32(b, n);                       /* VM */
    g_byte_array_append(b, (const guint8 *)"DS\0\0", 4);
    put_u32(b, 3);                       /* syngo type */
    put_u32(b, n);                       /* items */
    put_u32(b, 77);
    for (guint k = 0; k < n; k++) {
        guint32 len = (guint32)strlen(items[k]) + 1;
        put_u32(b, len);
        put_u32(b, len);
        put_u32(b, 77);
        put_u32(b, len);
        g_byte_array_append(b, (const guint8 *)items[k], len);
        static const guint8 pad[4] = {0};
        g_byte_array_append(b, pad, (4 - len % 4) % 4);
    }
}

static GByteArray *sample_csa(void)
{
    GByteArray *b = g_byte_array_new();
    g_byte_array_append(b, (const guint8 *)"SV10\4\3\2\1", 8);
    put_u32(b, 3);
    put_u32(b, 77);
    const char *none[] = {NULL};
    put_element(b, "Empty", none, 0);
    const char *n[] = {"48 "};
    put_element(b, "NumberOfImagesInMosaic", n, 1);
    const char *v[] = {"0.0", "0.00523632", "0.99998629"};
    put_element(b, "SliceNormalVector", v, 3);
    return b;
}

static void test_csa_read(void)
{
    g_autoptr(GByteArray) b = sample_csa();
    double x;
    g_assert_true(dfs_csa_number(b->data, b->len, "NumberOfImagesInMosaic", 0, &x));
    g_assert_cmpfloat(x, ==, 48);
    g_assert_true(dfs_csa_number(b->data, b->len, "SliceNormalVector", 2, &x));
    g_assert_cmpfloat(x, ==, 0.99998629);
    g_assert_true(dfs_csa_number(b->data, b->len, "SliceNormalVector", 1, &x));
    g_assert_cmpfloat(x, ==, 0.00523632);
    g_assert_false(dfs_csa_number(b->data, b->len, "SliceNormalVector", 3, &x));
    g_assert_false(dfs_csa_number(b->data, b->len, "Empty", 0, &x));
    g_assert_false(dfs_csa_number(b->data, b->len, "Missing", 0, &x));
    g_assert_false(dfs_csa_number(b->data, b->len, "SliceNormal", 0, &x)); /* a prefix */
}

/* Every cut of the blob: FALSE or the right value, never a read past the
 * end (ASan in the sanitizer pass); lengths and counts that lie: FALSE. */
static void test_csa_hostile(void)
{
    g_autoptr(GByteArray) b = sample_csa();
    for (gsize len = 0; len <= b->len; len++) {
        guint8 *cut = g_memdup2(b->data, len); /* exactly len bytes, for ASan */
        double x;
        if (dfs_csa_number(cut, len, "SliceNormalVector", 2, &x))
            g_assert_cmpfloat(x, ==, 0.99998629);
        if (dfs_csa_number(cut, len, "NumberOfImagesInMosaic", 0, &x))
            g_assert_cmpfloat(x, ==, 48);
        g_free(cut);
    }
    /* an element count, an item count and an item length far past the end */
    static const gsize fields[] = {8, 16 + 76, 16 + 84 + 84 + 4};
    for (guint k = 0; k < G_N_ELEMENTS(fields); k++) {
        g_autoptr(GByteArray) lie = sample_csa();
        memset(lie->data + fields[k], 0xFF, 4);
        double x;
        g_assert_false(dfs_csa_number(lie->data, lie->len, "SliceNormalVector", 2, &x));
    }
}

/* --- ASCCONV ----------------------------------------------------------------- */

/* A protocol as Siemens' series header holds it: ASCCONV lines inside an
 * XProtocol string (so its quotes are doubled), a CRLF line, a comment, a
 * key twice, lines that are not "key = value". */
static const char ascconv_sample[] =
    "<XProtocol>\n{\n  <ParamString.\"\"Protocol0\"\"> { \"\"ignored = 1\"\" }\n"
    "### ASCCONV BEGIN @Checksum=mpf:1234 ###\n"
    "ulVersion                                = 0x14b44b6\n"
    "tSequenceFileName                        = \"\"%SiemensSeq%\\ep2d_diff\"\"\n"
    "sKSpace.ucPhasePartialFourier            = 0x4\n"
    "sKSpace.dPhaseResolution                 = 0.75\r\n"
    "sGRADSPEC.lOffsetX                       = -7806\n"
    "sTXSPEC.asNucleusInfo[0].flReferenceAmplitude = 384.855  # volts\n"
    "asCoilSelectMeas[0].asList[0].lRxChannelConnected = 1\n"
    "asCoilSelectMeas[0].asList[0].sCoilElementID.tCoilID = \"\"HeadMatrix\"\"\n"
    "asCoilSelectMeas[0].asList[1].sCoilElementID.tCoilID = \"\"Other\"\"\n"
    "sKSpace.lBaseResolution                  = 128\n"
    "sKSpace.lBaseResolution                  = 256\n"
    "tEmpty                                   = \"\"\"\"\n"
    "tBare                                    = bare\n"
    "no equals sign here\n"
    "bad key = 3\n"
    "= 4\n"
    "### ASCCONV END ###\"\n"
    "sAfterEnd = 5\n";

static void check_ascconv_sample(const DfsAscconv *a)
{
    double x;
    g_assert_true(dfs_ascconv_number(a, "ulVersion", &x));
    g_assert_cmpfloat(x, ==, 0x14b44b6);
    g_assert_true(dfs_ascconv_number(a, "sKSpace.ucPhasePartialFourier", &x));
    g_assert_cmpfloat(x, ==, 4);
    g_assert_true(dfs_ascconv_number(a, "sKSpace.dPhaseResolution", &x));
    g_assert_cmpfloat(x, ==, 0.75);
    g_assert_true(dfs_ascconv_number(a, "sGRADSPEC.lOffsetX", &x));
    g_assert_cmpfloat(x, ==, -7806);
    g_assert_true(dfs_ascconv_number(a, "sTXSPEC.asNucleusInfo[0].flReferenceAmplitude", &x));
    g_assert_cmpfloat(x, ==, 384.855);
    g_assert_true(dfs_ascconv_number(a, "sKSpace.lBaseResolution", &x));
    g_assert_cmpfloat(x, ==, 128); /* the first value stands */
    g_assert_cmpstr(dfs_ascconv_string(a, "tSequenceFileName"), ==, "%SiemensSeq%\\ep2d_diff");
    g_assert_false(dfs_ascconv_number(a, "tSequenceFileName", &x));
    g_assert_null(dfs_ascconv_string(a, "ulVersion"));
    g_assert_null(dfs_ascconv_string(a, "tEmpty"));
    g_assert_true(dfs_ascconv_has(a, "tEmpty"));
    g_assert_null(dfs_ascconv_string(a, "tBare"));
    g_assert_false(dfs_ascconv_number(a, "tBare", &x));
    g_assert_false(dfs_ascconv_has(a, "bad key"));
    g_assert_false(dfs_ascconv_has(a, "bad"));
    g_assert_false(dfs_ascconv_has(a, "sAfterEnd"));
    g_assert_false(dfs_ascconv_has(a, "Protocol0"));
    const char *coil = dfs_ascconv_first_key(a, "asCoilSelectMeas[", "sCoilElementID.tCoilID");
    g_assert_cmpstr(coil, ==, "asCoilSelectMeas[0].asList[0].sCoilElementID.tCoilID");
    g_assert_cmpstr(dfs_ascconv_string(a, coil), ==, "HeadMatrix");
    g_assert_null(dfs_ascconv_first_key(a, "asCoilSelectMeas[", "tNoSuchKey"));
}

static void test_ascconv_read(void)
{
    g_autoptr(DfsAscconv) a = dfs_ascconv_parse(ascconv_sample, strlen(ascconv_sample));
    g_assert_nonnull(a);
    g_assert_cmpuint(dfs_ascconv_size(a), ==, 12);
    check_ascconv_sample(a);
    g_assert_null(dfs_ascconv_parse("no protocol here", 16));
    g_assert_null(dfs_ascconv_parse("### ASCCONV BEGIN ###", 21)); /* no line after it */
    g_assert_null(dfs_ascconv_parse(NULL, 0));
}

/* The protocol inside a CSA series header, as Siemens stores it: found by
 * its element's name, read through the same checks. */
static void test_ascconv_in_csa(void)
{
    GByteArray *b = g_byte_array_new();
    g_byte_array_append(b, (const guint8 *)"SV10\4\3\2\1", 8);
    put_u32(b, 2);
    put_u32(b, 77);
    const char *n[] = {"48"};
    put_element(b, "NumberOfImagesInMosaic", n, 1);
    const char *text[] = {ascconv_sample};
    put_element(b, "MrPhoenixProtocol", text, 1);
    gsize len;
    const guint8 *item = dfs_csa_item(b->data, b->len, "MrPhoenixProtocol", 0, &len);
    g_assert_nonnull(item);
    g_assert_cmpuint(len, ==, strlen(ascconv_sample) + 1);
    g_autoptr(DfsAscconv) a = dfs_ascconv_parse((const char *)item, len);
    check_ascconv_sample(a);
    g_assert_null(dfs_csa_item(b->data, b->len, "MrPhoenixProtocol", 1, &len));
    g_assert_null(dfs_csa_item(b->data, b->len, "MrProtocol", 0, &len));
    g_byte_array_unref(b);
}

/* Every cut of the text (an exact-length copy, for ASan): the keys read
 * are those whose line was whole, with their values, never more. */
static void test_ascconv_cut(void)
{
    gsize whole = strlen(ascconv_sample);
    for (gsize len = 0; len <= whole; len++) {
        char *cut = g_memdup2(ascconv_sample, len);
        g_autoptr(DfsAscconv) a = dfs_ascconv_parse(cut, len);
        double x;
        if (a != NULL) {
            g_assert_cmpuint(dfs_ascconv_size(a), <=, 12);
            if (dfs_ascconv_number(a, "sKSpace.dPhaseResolution", &x))
                g_assert_cmpfloat(x, ==, 0.75);
            if (dfs_ascconv_number(a, "sGRADSPEC.lOffsetX", &x))
                g_assert_cmpfloat(x, ==, -7806);
            const char *v = dfs_ascconv_string(a, "tSequenceFileName");
            g_assert_true(v == NULL || g_str_equal(v, "%SiemensSeq%\\ep2d_diff"));
            if (dfs_ascconv_has(a, "sKSpace.lBaseResolution"))
                g_assert_true(dfs_ascconv_number(a, "sKSpace.lBaseResolution", &x) && x == 128);
        }
        g_free(cut);
    }
}

/* Lines longer than the limit are skipped (the next one is read); quotes
 * missing or unclosed give no string; NUL bytes end the text; a latin-1
 * string comes out as UTF-8; keys past the limit are not kept. */
static void test_ascconv_hostile(void)
{
    GString *t = g_string_new("### ASCCONV BEGIN ###\nlong = \"\"");
    for (guint k = 0; k < 4 * DFS_ASCCONV_MAX_LINE; k++)
        g_string_append_c(t, 'x');
    g_string_append(t, "\"\"\nafter = 7\nopen = \"\"never closed\n"
                       "noopen = text\"\"\nlatin = \"\"Mu\xfcller\"\"\nhex = 0x\n"
                       "sign = -\nhuge = 1e999\nnum = 12abc\n");
    g_autoptr(DfsAscconv) a = dfs_ascconv_parse(t->str, t->len);
    double x;
    g_assert_false(dfs_ascconv_has(a, "long"));
    g_assert_true(dfs_ascconv_number(a, "after", &x));
    g_assert_cmpfloat(x, ==, 7);
    g_assert_null(dfs_ascconv_string(a, "open"));
    g_assert_null(dfs_ascconv_string(a, "noopen"));
    g_assert_cmpstr(dfs_ascconv_string(a, "latin"), ==, "Mu\xc3\xbcller");
    g_assert_false(dfs_ascconv_number(a, "hex", &x));
    g_assert_false(dfs_ascconv_number(a, "sign", &x));
    g_assert_false(dfs_ascconv_number(a, "huge", &x));
    g_assert_false(dfs_ascconv_number(a, "num", &x));

    static const char nul[] = "### ASCCONV BEGIN ###\na = 1\nb = 2\0c = 3\nd = 4\n";
    g_autoptr(DfsAscconv) n = dfs_ascconv_parse(nul, sizeof nul - 1);
    g_assert_true(dfs_ascconv_has(n, "a"));
    g_assert_false(dfs_ascconv_has(n, "b")); /* its line is cut by the NUL */
    g_assert_false(dfs_ascconv_has(n, "d"));

    g_string_assign(t, "### ASCCONV BEGIN ###\n");
    for (guint k = 0; k < DFS_ASCCONV_MAX_KEYS + 100; k++)
        g_string_append_printf(t, "k%u = %u\n", k, k);
    g_autoptr(DfsAscconv) many = dfs_ascconv_parse(t->str, t->len);
    g_assert_cmpuint(dfs_ascconv_size(many), ==, DFS_ASCCONV_MAX_KEYS);
    g_assert_true(dfs_ascconv_number(many, "k0", &x) && x == 0);
    g_assert_false(dfs_ascconv_has(many, "k65600"));
    g_string_free(t, TRUE);
}

/* --- plans ------------------------------------------------------------------- */

/* An axial 4x3 slice (columns x rows) at z, spacing 0.5 (rows) x 0.25
 * (columns), instance `instance`, node `node`. */
static DfsSlice axial(guint node, gint64 instance, double z)
{
    DfsSlice s = {0};
    s.node = node;
    s.rows = s.frame_rows = s.image.rows = 3;
    s.columns = s.frame_columns = s.image.columns = 4;
    s.samples = s.image.samples = 1;
    s.bits_allocated = s.image.bits_allocated = 16;
    s.bits_stored = s.image.bits_stored = 16;
    s.is_signed = s.image.is_signed = TRUE;
    s.image.frames = 1;
    s.has_geometry = TRUE;
    double iop[6] = {1, 0, 0, 0, 1, 0};
    memcpy(s.iop, iop, sizeof iop);
    s.ipp[0] = -10;
    s.ipp[1] = 20;
    s.ipp[2] = z;
    s.spacing[0] = 0.5;
    s.spacing[1] = 0.25;
    s.slope = 1;
    s.tr = 2000;
    s.acq_time = -1;
    s.phase_positive = -1;
    s.instance_number = instance;
    s.series_number = 5;
    s.modality = g_strdup("CT");
    s.protocol = g_strdup("ax");
    s.description = g_strdup("");
    s.series_uid = g_strdup("1.2.3");
    s.sop_uid = g_strdup_printf("1.2.3.%u", node);
    s.manufacturer = g_strdup("");
    s.image_type = g_strdup("ORIGINAL\\PRIMARY");
    s.comments = g_strdup("");
    s.transfer_syntax = g_strdup("1.2.840.10008.1.2.1");
    return s;
}

static void test_plan_axial(void)
{
    /* Instance numbers against position: 1 at z 9, 2 at z 6, 3 at z 3. */
    DfsSlice *s = g_new(DfsSlice, 3);
    s[0] = axial(10, 1, 9);
    s[1] = axial(11, 2, 6);
    s[2] = axial(12, 3, 3);
    g_autoptr(DfsVolumePlan) p = dfs_volume_plan_new(s, 3);
    g_assert_cmpuint(p->n_volumes, ==, 1);
    const DfsVolume *v = &p->volumes[0];
    g_assert_cmpstr(v->stem, ==, "ax_5");
    g_assert_cmpuint(v->dim[0], ==, 4);
    g_assert_cmpuint(v->dim[1], ==, 3);
    g_assert_cmpuint(v->dim[2], ==, 3);
    g_assert_cmpuint(v->dim[3], ==, 1);
    /* slices up the normal (row x column = +z in LPS) */
    g_assert_cmpuint(p->slices[v->order[0]].node, ==, 12);
    g_assert_cmpuint(p->slices[v->order[2]].node, ==, 10);
    /* voxel (i, j, k): LPS = IPP(k) + i * 0.25 * row + (2 - j) * 0.5 * column,
     * the first slice at z 3; RAS negates x and y. */
    double want[3][4] = {{-0.25, 0, 0, 10}, {0, 0.5, 0, -(20 + 2 * 0.5)}, {0, 0, 3, 3}};
    for (guint r = 0; r < 3; r++)
        for (guint c = 0; c < 4; c++) {
            g_assert_cmpfloat_with_epsilon(v->sform[r][c], want[r][c], 1e-9);
            g_assert_cmpfloat_with_epsilon(v->qform[r][c], want[r][c], 1e-9);
        }
    g_assert_cmpfloat(v->qfac, ==, -1); /* x flipped: a left-handed grid */
    g_assert_cmpfloat_with_epsilon(v->pixdim[2], 3, 1e-12);
    g_assert_cmpuint(v->datatype, ==, DFS_NIFTI_INT16);
    g_assert_cmpuint(dfs_nifti_size(v), ==, 352 + 4 * 3 * 3 * 2);
}

static void test_plan_4d_and_refusals(void)
{
    /* Two volumes of two slices: instances 1-2 at z 0, 5; 3-4 again. */
    DfsSlice *s = g_new(DfsSlice, 4);
    s[0] = axial(1, 1, 0);
    s[1] = axial(2, 2, 5);
    s[2] = axial(3, 3, 0);
    s[3] = axial(4, 4, 5);
    g_autoptr(DfsVolumePlan) p = dfs_volume_plan_new(s, 4);
    g_assert_cmpuint(p->n_volumes, ==, 1);
    const DfsVolume *v = &p->volumes[0];
    g_assert_cmpuint(v->dim[2], ==, 2);
    g_assert_cmpuint(v->dim[3], ==, 2);
    guint want[] = {1, 2, 3, 4}; /* volume-major, slices up the normal */
    for (guint k = 0; k < 4; k++)
        g_assert_cmpuint(p->slices[v->order[k]].node, ==, want[k]);

    /* A slice missing from the second volume: no volume, a note. */
    DfsSlice *m = g_new(DfsSlice, 3);
    m[0] = axial(1, 1, 0);
    m[1] = axial(2, 2, 5);
    m[2] = axial(3, 3, 0);
    g_autoptr(DfsVolumePlan) q = dfs_volume_plan_new(m, 3);
    g_assert_cmpuint(q->n_volumes, ==, 0);
    g_assert_cmpuint(q->notes->len, ==, 1);

    /* The same file twice: one dropped, said so. */
    DfsSlice *d = g_new(DfsSlice, 3);
    d[0] = axial(1, 1, 0);
    d[1] = axial(2, 2, 5);
    d[2] = axial(1, 1, 0);
    g_autoptr(DfsVolumePlan) r = dfs_volume_plan_new(d, 3);
    g_assert_cmpuint(r->n_volumes, ==, 1);
    g_assert_cmpuint(r->volumes[0].dim[2], ==, 2);
    g_assert_nonnull(strstr(g_ptr_array_index(r->notes, 0), "duplicate"));
}

/* Frame of slice k: sample (r, c) = 1000 * node + 10 * r + c. */
static GBytes *fake_frame(gpointer user, guint slice, GError **error)
{
    const DfsVolumePlan *p = user;
    const DfsSlice *s = &p->slices[slice];
    gint16 *px = g_new(gint16, s->frame_rows * s->frame_columns);
    for (guint r = 0; r < s->frame_rows; r++)
        for (guint c = 0; c < s->frame_columns; c++)
            px[r * s->frame_columns + c] = (gint16)(1000 * s->node + 10 * r + c);
    return g_bytes_new_take(px, s->frame_rows * s->frame_columns * 2);
}

/* Three axial slices 3 mm apart, instance numbers against position. */
static DfsVolumePlan *three_axial(void)
{
    DfsSlice *s = g_new(DfsSlice, 3);
    s[0] = axial(1, 1, 9);
    s[1] = axial(2, 2, 6);
    s[2] = axial(3, 3, 3);
    return dfs_volume_plan_new(s, 3);
}

static void test_plan_read(void)
{
    g_autoptr(DfsVolumePlan) p = three_axial();
    const DfsVolume *v = &p->volumes[0];
    GString *whole = g_string_new(NULL);
    g_assert_true(dfs_volume_read(p, v, v->datatype, v->to_float, 0, G_MAXSIZE, fake_frame, NULL, p,
                                  whole, NULL));
    g_assert_cmpuint(whole->len, ==, v->voxel_bytes);
    /* voxel (i, j, k) = the sample at row 2 - j, column i of the k-th slice
     * up the normal (nodes 3, 2, 1) */
    const gint16 *vox = (const gint16 *)whole->str;
    for (guint k = 0; k < 3; k++)
        for (guint j = 0; j < 3; j++)
            for (guint i = 0; i < 4; i++)
                g_assert_cmpint(vox[(k * 3 + j) * 4 + i], ==, 1000 * (3 - k) + 10 * (2 - j) + i);
    /* by range, at odd offsets and lengths: the same bytes */
    for (gsize step = 1; step <= 9; step++) {
        GString *parts = g_string_new(NULL);
        for (guint64 at = 0; at < v->voxel_bytes; at += step)
            g_assert_true(dfs_volume_read(p, v, v->datatype, v->to_float, at, step, fake_frame, NULL,
                                          p, parts, NULL));
        g_assert_cmpmem(parts->str, parts->len, whole->str, whole->len);
        g_string_free(parts, TRUE);
    }
    /* as int32 (Analyze's type for what it lacks): the same values */
    GString *wide = g_string_new(NULL);
    g_assert_true(dfs_volume_read(p, v, DFS_NIFTI_INT32, FALSE, 0, G_MAXSIZE, fake_frame, NULL, p,
                                  wide, NULL));
    g_assert_cmpuint(wide->len, ==, 2 * whole->len);
    for (guint k = 0; k < whole->len / 2; k++)
        g_assert_cmpint(((const gint32 *)wide->str)[k], ==, vox[k]);
    g_string_free(wide, TRUE);
    g_string_free(whole, TRUE);
}

/* The fake frames written to a file, each at 100 + its slice x the frame
 * size: the rows are read from it into place. */
typedef struct {
    const DfsVolumePlan *p;
    char *path;
    guint opened;
    guint most_open; /* the process' open files at an open, at most */
} FrameFiles;

static guint open_files(void)
{
    guint n = 0;
    GDir *d = g_dir_open("/proc/self/fd", 0, NULL);
    while (d != NULL && g_dir_read_name(d) != NULL)
        n++;
    if (d != NULL)
        g_dir_close(d);
    return n;
}

static int fake_source(gpointer user, guint slice, guint64 *base, guint64 *length)
{
    FrameFiles *ff = user;
    const DfsSlice *s = &ff->p->slices[slice];
    *length = (guint64)s->frame_rows * s->frame_columns * 2;
    *base = 100 + slice * *length;
    ff->opened++;
    ff->most_open = MAX(ff->most_open, open_files());
    return open(ff->path, O_RDONLY);
}

static GBytes *no_fetch(gpointer user, guint slice, GError **error)
{
    g_set_error(error, DFS_ERROR, DFS_ERROR_IO, "fetched slice %u", slice);
    return NULL;
}

static void test_plan_read_from_files(void)
{
    g_autoptr(DfsVolumePlan) p = three_axial();
    const DfsVolume *v = &p->volumes[0];
    g_autofree char *dir = g_dir_make_tmp("dfs-volumes-XXXXXX", NULL);
    FrameFiles ff = {p, g_build_filename(dir, "frames", NULL), 0, 0};
    GString *file = g_string_new(NULL);
    g_string_set_size(file, 100);
    for (guint k = 0; k < 3; k++) {
        g_autoptr(GBytes) b = fake_frame((gpointer)p, k, NULL);
        g_string_append_len(file, g_bytes_get_data(b, NULL), (gssize)g_bytes_get_size(b));
    }
    g_assert_true(g_file_set_contents(ff.path, file->str, (gssize)file->len, NULL));

    GString *want = g_string_new(NULL), *got = g_string_new(NULL);
    g_assert_true(dfs_volume_read(p, v, v->datatype, FALSE, 0, G_MAXSIZE, fake_frame, NULL, p,
                                  want, NULL));
    /* whole rows come from the file (no fetch: it would fail) */
    guint before = open_files();
    g_assert_true(dfs_volume_read(p, v, v->datatype, FALSE, 0, G_MAXSIZE, no_fetch, fake_source,
                                  &ff, got, NULL));
    g_assert_cmpmem(got->str, got->len, want->str, want->len);
    g_assert_cmpuint(ff.opened, ==, 3);
    /* each file closed once its rows are read: one open beside the next */
    g_assert_cmpuint(ff.most_open, <=, before + 1);
    g_assert_cmpuint(open_files(), ==, before);
    /* by range, rows cut by the range's ends too: the same bytes, all read
     * from the file (a fetch would fail) */
    FrameFiles both = ff;
    for (gsize step = 1; step <= 30; step += 7) {
        GString *parts = g_string_new(NULL);
        for (guint64 at = 0; at < v->voxel_bytes; at += step) {
            g_assert_true(dfs_volume_read(p, v, v->datatype, FALSE, at, step, no_fetch,
                                          fake_source, &both, parts, NULL));
        }
        g_assert_cmpmem(parts->str, parts->len, want->str, want->len);
        g_string_free(parts, TRUE);
    }
    /* a file shorter than its frames: an error, nothing appended */
    g_assert_cmpint(truncate(ff.path, 100 + 2 * 24 + 5), ==, 0);
    g_autoptr(GError) error = NULL;
    g_string_truncate(got, 0);
    g_assert_false(dfs_volume_read(p, v, v->datatype, FALSE, 0, G_MAXSIZE, no_fetch, fake_source,
                                   &ff, got, &error));
    g_assert_error(error, DFS_ERROR, DFS_ERROR_IO);
    g_assert_cmpuint(got->len, ==, 0);
    g_unlink(ff.path);
    g_rmdir(dir);
    g_free(ff.path);
    g_string_free(file, TRUE);
    g_string_free(want, TRUE);
    g_string_free(got, TRUE);
}

/* A sagittal 3D MR (turned to the nearest RAS): the slabs' scatter gives
 * the gather's bytes, at every offset and length tried. */
static void test_plan_scatter(void)
{
    DfsSlice *s = g_new(DfsSlice, 5);
    double iop[6] = {0, 1, 0, 0, 0, -1};
    for (guint k = 0; k < 5; k++) {
        s[k] = axial(k + 1, k + 1, 0);
        memcpy(s[k].iop, iop, sizeof iop);
        s[k].ipp[0] = -20 + 1.5 * k;
        g_free(s[k].modality);
        s[k].modality = g_strdup("MR");
        s[k].mr3d = TRUE;
    }
    g_autoptr(DfsVolumePlan) p = dfs_volume_plan_new(s, 5);
    const DfsVolume *v = &p->volumes[0];
    g_assert_true(dfs_volume_is_permuted(v));
    g_assert_cmpuint(v->dim[0], ==, 5); /* the slices run along x now */
    GString *gather = g_string_new(NULL), *scatter = g_string_new(NULL);
    g_assert_true(dfs_volume_read(p, v, v->datatype, FALSE, 0, G_MAXSIZE, fake_frame, NULL, p, gather,
                                  NULL));
    g_assert_true(dfs_volume_scatter(p, v, v->datatype, FALSE, 0, G_MAXSIZE, fake_frame, p,
                                     scatter, NULL));
    g_assert_cmpmem(scatter->str, scatter->len, gather->str, gather->len);
    for (gsize len = 1; len <= 7; len += 3)
        for (guint64 at = 0; at < gather->len; at += 5) {
            GString *part = g_string_new(NULL);
            g_assert_true(dfs_volume_scatter(p, v, DFS_NIFTI_INT32, FALSE, 2 * at, len,
                                             fake_frame, p, part, NULL));
            GString *want = g_string_new(NULL);
            g_assert_true(dfs_volume_read(p, v, DFS_NIFTI_INT32, FALSE, 2 * at, len, fake_frame, NULL,
                                          p, want, NULL));
            g_assert_cmpmem(part->str, part->len, want->str, want->len);
            g_string_free(part, TRUE);
            g_string_free(want, TRUE);
        }
    g_string_free(gather, TRUE);
    g_string_free(scatter, TRUE);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/volumes/csa/read", test_csa_read);
    g_test_add_func("/volumes/csa/hostile", test_csa_hostile);
    g_test_add_func("/volumes/ascconv/read", test_ascconv_read);
    g_test_add_func("/volumes/ascconv/in-csa", test_ascconv_in_csa);
    g_test_add_func("/volumes/ascconv/cut", test_ascconv_cut);
    g_test_add_func("/volumes/ascconv/hostile", test_ascconv_hostile);
    g_test_add_func("/volumes/plan/axial", test_plan_axial);
    g_test_add_func("/volumes/plan/4d-and-refusals", test_plan_4d_and_refusals);
    g_test_add_func("/volumes/plan/read", test_plan_read);
    g_test_add_func("/volumes/plan/read-from-files", test_plan_read_from_files);
    g_test_add_func("/volumes/plan/scatter", test_plan_scatter);
    return g_test_run();
}
