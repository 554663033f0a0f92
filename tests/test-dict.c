/* Unit tests of the data dictionary.  The expected values are facts of the
 * standard (PS3.5, PS3.6) and of the well-known Siemens CSA private header,
 * written here by hand, so they do not come from our own tables.
 *
 * The whole table is checked against pydicom by tests/oracle/dict_oracle.py,
 * which drives this program in two extra modes:
 *   test-dict --dump-dict   every table row as TSV
 *   test-dict --query       answer lookups read from stdin, one per line:
 *                           "tag\tGGGGEEEE", "keyword\tK", "private\tCREATOR\tGGGGEEEE",
 *                           "uid\tUID"; each answer is one TSV line or "-". */
#include <stdio.h>
#include <string.h>

#include "dicom/dict-table.h"
#include "dicom/tags.h"

/* --- helpers --------------------------------------------------------------- */

static const DfsDictEntry *expect(guint32 tag, DfsVr vr, DfsVr vr_alt, const char *vm,
                                  const char *keyword, const char *name, gboolean retired)
{
    const DfsDictEntry *e = dfs_dict_lookup(tag);
    g_assert_nonnull(e);
    g_assert_cmpstr(dfs_vr_name(e->vr), ==, dfs_vr_name(vr));
    g_assert_cmpstr(dfs_vr_name(e->vr_alt), ==, dfs_vr_name(vr_alt));
    g_assert_cmpstr(e->vm, ==, vm);
    g_assert_cmpstr(e->keyword, ==, keyword);
    g_assert_cmpstr(e->name, ==, name);
    g_assert_cmpint(e->retired, ==, retired);
    return e;
}

/* --- public tags (PS3.6 section 6) ---------------------------------------- */

static void test_lookup_plain(void)
{
    const DfsDictEntry *e =
        expect(0x00100010, DFS_VR_PN, DFS_VR_NONE, "1", "PatientName", "Patient's Name", FALSE);
    g_assert_cmphex(e->tag, ==, 0x00100010);
    g_assert_cmphex(e->mask, ==, 0xffffffff);
    expect(0x00100020, DFS_VR_LO, DFS_VR_NONE, "1", "PatientID", "Patient ID", FALSE);
    expect(0x00100030, DFS_VR_DA, DFS_VR_NONE, "1", "PatientBirthDate", "Patient's Birth Date",
           FALSE);
    expect(0x00020000, DFS_VR_UL, DFS_VR_NONE, "1", "FileMetaInformationGroupLength",
           "File Meta Information Group Length", FALSE);
    expect(0x00020001, DFS_VR_OB, DFS_VR_NONE, "1", "FileMetaInformationVersion",
           "File Meta Information Version", FALSE);
    expect(0x00020010, DFS_VR_UI, DFS_VR_NONE, "1", "TransferSyntaxUID", "Transfer Syntax UID",
           FALSE);
    expect(0x00080005, DFS_VR_CS, DFS_VR_NONE, "1-n", "SpecificCharacterSet",
           "Specific Character Set", FALSE);
    expect(0x00080008, DFS_VR_CS, DFS_VR_NONE, "2-n", "ImageType", "Image Type", FALSE);
    expect(0x00080016, DFS_VR_UI, DFS_VR_NONE, "1", "SOPClassUID", "SOP Class UID", FALSE);
    expect(0x00080018, DFS_VR_UI, DFS_VR_NONE, "1", "SOPInstanceUID", "SOP Instance UID", FALSE);
    expect(0x00080060, DFS_VR_CS, DFS_VR_NONE, "1", "Modality", "Modality", FALSE);
    expect(0x00081140, DFS_VR_SQ, DFS_VR_NONE, "1", "ReferencedImageSequence",
           "Referenced Image Sequence", FALSE);
    expect(0x00180050, DFS_VR_DS, DFS_VR_NONE, "1", "SliceThickness", "Slice Thickness", FALSE);
    expect(0x0020000D, DFS_VR_UI, DFS_VR_NONE, "1", "StudyInstanceUID", "Study Instance UID",
           FALSE);
    expect(0x00200032, DFS_VR_DS, DFS_VR_NONE, "3", "ImagePositionPatient",
           "Image Position (Patient)", FALSE);
    expect(0x00200037, DFS_VR_DS, DFS_VR_NONE, "6", "ImageOrientationPatient",
           "Image Orientation (Patient)", FALSE);
    expect(0x00280010, DFS_VR_US, DFS_VR_NONE, "1", "Rows", "Rows", FALSE);
    expect(0x00280011, DFS_VR_US, DFS_VR_NONE, "1", "Columns", "Columns", FALSE);
    expect(0x00280030, DFS_VR_DS, DFS_VR_NONE, "2", "PixelSpacing", "Pixel Spacing", FALSE);
    expect(0x00280103, DFS_VR_US, DFS_VR_NONE, "1", "PixelRepresentation",
           "Pixel Representation", FALSE);
    /* The ambiguous VRs of PS3.5 A.1 and PS3.6. */
    expect(0x00280106, DFS_VR_US, DFS_VR_SS, "1", "SmallestImagePixelValue",
           "Smallest Image Pixel Value", FALSE);
    expect(0x00283006, DFS_VR_US, DFS_VR_OW, "1-n", "LUTData", "LUT Data", FALSE);
    expect(0x7FE00010, DFS_VR_OB, DFS_VR_OW, "1", "PixelData", "Pixel Data", FALSE);
    /* Retired attributes stay in the dictionary, flagged. */
    expect(0x00280005, DFS_VR_US, DFS_VR_NONE, "1", "ImageDimensions", "Image Dimensions", TRUE);
    /* PS3.5 7.5: items and delimiters have no VR. */
    expect(0xFFFEE000, DFS_VR_NONE, DFS_VR_NONE, "1", "Item", "Item", FALSE);
    expect(0xFFFEE00D, DFS_VR_NONE, DFS_VR_NONE, "1", "ItemDelimitationItem",
           "Item Delimitation Item", FALSE);
    expect(0xFFFEE0DD, DFS_VR_NONE, DFS_VR_NONE, "1", "SequenceDelimitationItem",
           "Sequence Delimitation Item", FALSE);
    /* Not defined by the standard. */
    g_assert_null(dfs_dict_lookup(0x00100011));
    g_assert_null(dfs_dict_lookup(0x7FE00011));
    g_assert_null(dfs_dict_lookup(0xFFFEE001));
    g_assert_null(dfs_dict_lookup(0xFFFFFFFF));
}

static void test_lookup_repeating(void)
{
    /* PS3.6 (60xx,3000) Overlay Data; PS3.5 7.6: groups 6000-601E, even. */
    const DfsDictEntry *e = expect(0x60003000, DFS_VR_OB, DFS_VR_OW, "1", "OverlayData",
                                   "Overlay Data", FALSE);
    g_assert_cmphex(e->tag, ==, 0x60003000);
    g_assert_cmphex(e->mask, ==, 0xff00ffff);
    g_assert_true(dfs_dict_lookup(0x60103000) == e);
    g_assert_true(dfs_dict_lookup(0x601E3000) == e);
    expect(0x60020010, DFS_VR_US, DFS_VR_NONE, "1", "OverlayRows", "Overlay Rows", FALSE);
    expect(0x60040011, DFS_VR_US, DFS_VR_NONE, "1", "OverlayColumns", "Overlay Columns", FALSE);
    expect(0x60060040, DFS_VR_CS, DFS_VR_NONE, "1", "OverlayType", "Overlay Type", FALSE);
    expect(0x60080050, DFS_VR_SS, DFS_VR_NONE, "2", "OverlayOrigin", "Overlay Origin", FALSE);
    expect(0x60000100, DFS_VR_US, DFS_VR_NONE, "1", "OverlayBitsAllocated",
           "Overlay Bits Allocated", FALSE);
    /* Outside the range, or odd (private): not an overlay. */
    g_assert_null(dfs_dict_lookup(0x60203000));
    g_assert_null(dfs_dict_lookup(0x60FE3000));
    g_assert_null(dfs_dict_lookup(0x60013000));
    /* The retired curves, (50xx,eeee). */
    expect(0x50003000, DFS_VR_OB, DFS_VR_OW, "1", "CurveData", "Curve Data", TRUE);
    expect(0x50120005, DFS_VR_US, DFS_VR_NONE, "1", "CurveDimensions", "Curve Dimensions", TRUE);
    expect(0x50000010, DFS_VR_US, DFS_VR_NONE, "1", "NumberOfPoints", "Number of Points", TRUE);
    /* Repeating elements: (0020,31xx) Source Image IDs, (7Fxx,0010). */
    e = expect(0x00203100, DFS_VR_CS, DFS_VR_NONE, "1-n", "SourceImageIDs", "Source Image IDs",
               TRUE);
    g_assert_true(dfs_dict_lookup(0x002031FF) == e);
    expect(0x7F000010, DFS_VR_OB, DFS_VR_OW, "1", "VariablePixelData", "Variable Pixel Data",
           TRUE);
    /* (7FE0,0010) is Pixel Data, not a variable pixel data group. */
    g_assert_cmpstr(dfs_dict_lookup(0x7FE00010)->keyword, ==, "PixelData");
}

static void test_lookup_group_length(void)
{
    /* PS3.5 7.2: (gggg,0000) is UL in every group. */
    const DfsDictEntry *e =
        expect(0x00080000, DFS_VR_UL, DFS_VR_NONE, "1", "", "Group Length", TRUE);
    g_assert_true(dfs_dict_lookup(0x00280000) == e);
    g_assert_true(dfs_dict_lookup(0x60000000) == e);
    g_assert_true(dfs_dict_lookup(0x00290000) == e);
    g_assert_cmphex(e->tag & e->mask, ==, e->tag);
    /* The two current ones have their own entries. */
    expect(0x00000000, DFS_VR_UL, DFS_VR_NONE, "1", "CommandGroupLength", "Command Group Length",
           FALSE);
    expect(0x00020000, DFS_VR_UL, DFS_VR_NONE, "1", "FileMetaInformationGroupLength",
           "File Meta Information Group Length", FALSE);
}

static void test_lookup_private_creator(void)
{
    /* PS3.5 7.8.1: (gggg,0010-00FF) in an odd group is a Private Creator, LO. */
    const DfsDictEntry *e = expect(0x00290010, DFS_VR_LO, DFS_VR_NONE, "1", "PrivateCreator",
                                   "Private Creator", FALSE);
    g_assert_true(dfs_dict_lookup(0x000900FF) == e);
    g_assert_true(dfs_dict_lookup(0x7FE10010) == e);
    g_assert_null(dfs_dict_lookup(0x0029000F)); /* reserved */
    g_assert_null(dfs_dict_lookup(0x00290100)); /* reserved */
    g_assert_null(dfs_dict_lookup(0x00291010)); /* private data: dfs_dict_lookup_private */
    g_assert_null(dfs_dict_lookup(0x00010010)); /* groups 0001-0007 are not private */
    g_assert_null(dfs_dict_lookup(0xFFFF0010));
}

/* --- private dictionaries ------------------------------------------------- */

static void expect_private(const char *creator, guint32 tag, DfsVr vr, const char *name)
{
    const DfsDictEntry *e = dfs_dict_lookup_private(creator, tag);
    g_assert_nonnull(e);
    g_assert_cmpstr(dfs_vr_name(e->vr), ==, dfs_vr_name(vr));
    g_assert_cmpstr(e->name, ==, name);
    g_assert_cmpstr(e->keyword, ==, "");
    g_assert_cmphex(tag & e->mask, ==, e->tag);
}

static void test_private(void)
{
    /* Siemens' CSA headers: (0029,xx10) and (0029,xx20), OB, in any block. */
    const char *csa = "SIEMENS CSA HEADER";
    expect_private(csa, 0x00291010, DFS_VR_OB, "CSA Image Header Info");
    expect_private(csa, 0x00291110, DFS_VR_OB, "CSA Image Header Info");
    expect_private(csa, 0x0029FF10, DFS_VR_OB, "CSA Image Header Info");
    expect_private(csa, 0x00291020, DFS_VR_OB, "CSA Series Header Info");
    expect_private(csa, 0x00291008, DFS_VR_CS, "CSA Image Header Type");
    g_assert_true(dfs_dict_lookup_private(csa, 0x00291010) ==
                  dfs_dict_lookup_private(csa, 0x00291210));
    g_assert_null(dfs_dict_lookup_private(csa, 0x002910FE));
    g_assert_null(dfs_dict_lookup_private(csa, 0x00191010)); /* another group */
    g_assert_null(dfs_dict_lookup_private(csa, 0x00281010)); /* even: public */
    g_assert_null(dfs_dict_lookup_private(csa, 0x00290010)); /* the creator slot itself */
    /* The creator must match exactly; the caller trims the padding. */
    g_assert_null(dfs_dict_lookup_private("SIEMENS CSA HEADER ", 0x00291010));
    g_assert_null(dfs_dict_lookup_private("siemens csa header", 0x00291010));
    g_assert_null(dfs_dict_lookup_private("NO SUCH CREATOR", 0x00291010));
    g_assert_null(dfs_dict_lookup_private("", 0x00291010));
    g_assert_null(dfs_dict_lookup_private(NULL, 0x00291010));
}

/* --- keywords, UIDs, tags.h ----------------------------------------------- */

static void test_keyword(void)
{
    const DfsDictEntry *e = dfs_dict_lookup_keyword("PatientName");
    g_assert_nonnull(e);
    g_assert_cmphex(e->tag, ==, 0x00100010);
    g_assert_true(e == dfs_dict_lookup(0x00100010));
    e = dfs_dict_lookup_keyword("PixelData");
    g_assert_nonnull(e);
    g_assert_cmphex(e->tag, ==, 0x7FE00010);
    e = dfs_dict_lookup_keyword("SOPInstanceUID");
    g_assert_nonnull(e);
    g_assert_cmphex(e->tag, ==, 0x00080018);
    /* Repeating entries have keywords too. */
    e = dfs_dict_lookup_keyword("OverlayData");
    g_assert_nonnull(e);
    g_assert_cmphex(e->tag, ==, 0x60003000);
    g_assert_cmphex(e->mask, ==, 0xff00ffff);
    g_assert_null(dfs_dict_lookup_keyword("patientname"));
    g_assert_null(dfs_dict_lookup_keyword("PatientName "));
    g_assert_null(dfs_dict_lookup_keyword("NotAKeyword"));
    g_assert_null(dfs_dict_lookup_keyword(""));
    g_assert_null(dfs_dict_lookup_keyword(NULL));
}

static void expect_uid(const char *uid, const char *name, const char *type, gboolean retired)
{
    const DfsUidEntry *u = dfs_uid_lookup(uid);
    g_assert_nonnull(u);
    g_assert_cmpstr(u->uid, ==, uid);
    g_assert_cmpstr(u->name, ==, name);
    g_assert_cmpstr(u->type, ==, type);
    g_assert_cmpint(u->retired, ==, retired);
}

static void test_uid(void)
{
    /* PS3.6 annex A; PS3.5 annex A for the transfer syntaxes. */
    const char *ts = "Transfer Syntax";
    expect_uid("1.2.840.10008.1.2", "Implicit VR Little Endian", ts, FALSE);
    expect_uid("1.2.840.10008.1.2.1", "Explicit VR Little Endian", ts, FALSE);
    expect_uid("1.2.840.10008.1.2.1.99", "Deflated Explicit VR Little Endian", ts, FALSE);
    expect_uid("1.2.840.10008.1.2.2", "Explicit VR Big Endian", ts, TRUE);
    expect_uid("1.2.840.10008.1.2.4.50", "JPEG Baseline (Process 1)", ts, FALSE);
    expect_uid("1.2.840.10008.1.2.4.90", "JPEG 2000 Image Compression (Lossless Only)", ts, FALSE);
    expect_uid("1.2.840.10008.1.2.5", "RLE Lossless", ts, FALSE);
    expect_uid("1.2.840.10008.1.1", "Verification SOP Class", "SOP Class", FALSE);
    expect_uid("1.2.840.10008.5.1.4.1.1.2", "CT Image Storage", "SOP Class", FALSE);
    expect_uid("1.2.840.10008.5.1.4.1.1.4", "MR Image Storage", "SOP Class", FALSE);
    g_assert_cmpstr(dfs_uid_lookup("1.2.840.10008.1.2.1")->keyword, ==, "ExplicitVRLittleEndian");
    g_assert_null(dfs_uid_lookup("1.2.840.10008.1.2.3"));
    g_assert_null(dfs_uid_lookup("1.2.840.10008.1.2 "));
    g_assert_null(dfs_uid_lookup("1.2.840.10008"));
    g_assert_null(dfs_uid_lookup(""));
    g_assert_null(dfs_uid_lookup(NULL));
}

static void test_tags_h(void)
{
    /* PS3.6 tags, PS3.5 7.5 items. */
    g_assert_cmphex(DFS_TAG_PATIENT_NAME, ==, 0x00100010);
    g_assert_cmphex(DFS_TAG_PATIENT_ID, ==, 0x00100020);
    g_assert_cmphex(DFS_TAG_ROWS, ==, 0x00280010);
    g_assert_cmphex(DFS_TAG_PIXEL_DATA, ==, 0x7FE00010);
    g_assert_cmphex(DFS_TAG_SOP_INSTANCE_UID, ==, 0x00080018);
    g_assert_cmphex(DFS_TAG_REFERENCED_SOP_INSTANCE_UID, ==, 0x00081155);
    g_assert_cmphex(DFS_TAG_TRANSFER_SYNTAX_UID, ==, 0x00020010);
    g_assert_cmphex(DFS_TAG_SPECIFIC_CHARACTER_SET, ==, 0x00080005);
    g_assert_cmphex(DFS_TAG_OTHER_PATIENT_IDS, ==, 0x00101000);
    g_assert_cmphex(DFS_TAG_X_RAY_3D_FRAME_TYPE_SEQUENCE, ==, 0x00189504);
    g_assert_cmphex(DFS_TAG_ITEM, ==, 0xFFFEE000);
    g_assert_cmphex(DFS_TAG_ITEM_DELIMITATION, ==, 0xFFFEE00D);
    g_assert_cmphex(DFS_TAG_SEQUENCE_DELIMITATION, ==, 0xFFFEE0DD);
    g_assert_cmpstr(DFS_UID_IMPLICIT_VR_LITTLE_ENDIAN, ==, "1.2.840.10008.1.2");
    g_assert_cmpstr(DFS_UID_EXPLICIT_VR_LITTLE_ENDIAN, ==, "1.2.840.10008.1.2.1");
    g_assert_cmpstr(DFS_UID_DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, ==, "1.2.840.10008.1.2.1.99");
    g_assert_cmpstr(DFS_UID_EXPLICIT_VR_BIG_ENDIAN, ==, "1.2.840.10008.1.2.2");
    g_assert_cmpstr(DFS_UID_RLE_LOSSLESS, ==, "1.2.840.10008.1.2.5");
}

/* --- the tables' invariants, which the binary searches rely on ------------- */

static void test_tables(void)
{
    for (guint i = 0; i < dfs_dict_plain_count; i++) {
        const DfsDictEntry *e = &dfs_dict_plain[i];
        g_assert_cmphex(dfs_dict_plain_tags[i], ==, e->tag);
        g_assert_cmphex(e->mask, ==, 0xffffffff);
        g_assert_true(i == 0 || dfs_dict_plain[i - 1].tag < e->tag);
        g_assert_true(dfs_dict_lookup(e->tag) == e);
    }
    for (guint i = 0; i < dfs_dict_repeating_count; i++) {
        const DfsDictEntry *e = &dfs_dict_repeating[i];
        g_assert_cmphex(e->tag & e->mask, ==, e->tag);
        g_assert_cmphex(e->mask, !=, 0xffffffff);
        /* Plain entries come first: (0028,0400) Transform Label is also
         * (0028,04x0) with x = 0, and element 0000 is always Group Length.
         * With some 'x' digits set, the repeating entry must answer. */
        const DfsDictEntry *hit = dfs_dict_lookup(e->tag);
        g_assert_true(hit == e || hit->mask == 0xffffffff || (e->tag & 0xffff) == 0);
        g_assert_true(dfs_dict_lookup(e->tag | (~e->mask & 0x0110)) == e);
    }
    for (guint i = 0; i < dfs_dict_by_keyword_count; i++) {
        const DfsDictEntry *e = dfs_dict_by_keyword[i];
        g_assert_true(i == 0 || strcmp(dfs_dict_by_keyword[i - 1]->keyword, e->keyword) < 0);
        g_assert_true(dfs_dict_lookup_keyword(e->keyword) == e);
    }
    guint next = 0;
    for (guint i = 0; i < dfs_dict_private_creator_count; i++) {
        const DfsPrivateCreator *c = &dfs_dict_private_creators[i];
        g_assert_true(i == 0 || strcmp(dfs_dict_private_creators[i - 1].creator, c->creator) < 0);
        g_assert_cmpuint(c->first, ==, next);
        next += c->count;
    }
    g_assert_cmpuint(next, ==, dfs_dict_private_count);
    g_assert_cmphex(dfs_dict_private_masks[0], ==, 0xffffffff);
    for (guint i = 1; i < dfs_uid_count; i++)
        g_assert_cmpint(strcmp(dfs_uid_table[i - 1].uid, dfs_uid_table[i].uid), <, 0);
}

/* --- oracle modes ---------------------------------------------------------- */

static void print_entry(const DfsDictEntry *e)
{
    if (e == NULL) {
        puts("-");
        return;
    }
    printf("%08x\t%08x\t%s\t%s\t%d\t%s\t%s\t%s\n", e->tag, e->mask, dfs_vr_name(e->vr),
           dfs_vr_name(e->vr_alt), e->retired, e->vm, e->keyword, e->name);
}

static void print_uid(const DfsUidEntry *u)
{
    if (u == NULL) {
        puts("-");
        return;
    }
    printf("%s\t%s\t%s\t%s\t%d\n", u->uid, u->name, u->keyword, u->type, u->retired ? 1 : 0);
}

static int dump_tables(void)
{
    for (guint i = 0; i < dfs_dict_plain_count; i++) {
        fputs("plain\t", stdout);
        print_entry(&dfs_dict_plain[i]);
    }
    for (guint i = 0; i < dfs_dict_repeating_count; i++) {
        fputs("repeating\t", stdout);
        print_entry(&dfs_dict_repeating[i]);
    }
    for (guint i = 0; i < dfs_dict_private_creator_count; i++) {
        const DfsPrivateCreator *c = &dfs_dict_private_creators[i];
        for (guint j = c->first; j < c->first + c->count; j++) {
            printf("private\t%s\t", c->creator);
            print_entry(&dfs_dict_private[j]);
        }
    }
    for (guint i = 0; i < dfs_uid_count; i++) {
        fputs("uid\t", stdout);
        print_uid(&dfs_uid_table[i]);
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

static gboolean answer(char *line)
{
    char *f[3] = {line, NULL, NULL};
    for (int i = 1; i < 3 && f[i - 1] != NULL; i++) {
        char *tab = strchr(f[i - 1], '\t');
        if (tab != NULL) {
            *tab = '\0';
            f[i] = tab + 1;
        }
    }
    if (strcmp(f[0], "tag") == 0 && f[1] != NULL)
        print_entry(dfs_dict_lookup((guint32)g_ascii_strtoull(f[1], NULL, 16)));
    else if (strcmp(f[0], "keyword") == 0 && f[1] != NULL)
        print_entry(dfs_dict_lookup_keyword(f[1]));
    else if (strcmp(f[0], "private") == 0 && f[2] != NULL)
        print_entry(dfs_dict_lookup_private(f[1], (guint32)g_ascii_strtoull(f[2], NULL, 16)));
    else if (strcmp(f[0], "uid") == 0 && f[1] != NULL)
        print_uid(dfs_uid_lookup(f[1]));
    else
        return FALSE;
    return TRUE;
}

static int answer_queries(FILE *in)
{
    char line[1024];
    while (fgets(line, sizeof line, in) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!answer(line)) {
            fprintf(stderr, "test-dict: bad query '%s'\n", line);
            return 2;
        }
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--dump-dict") == 0)
        return dump_tables();
    if (argc == 2 && strcmp(argv[1], "--query") == 0)
        return answer_queries(stdin);
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/dict/lookup/plain", test_lookup_plain);
    g_test_add_func("/dict/lookup/repeating", test_lookup_repeating);
    g_test_add_func("/dict/lookup/group-length", test_lookup_group_length);
    g_test_add_func("/dict/lookup/private-creator", test_lookup_private_creator);
    g_test_add_func("/dict/private", test_private);
    g_test_add_func("/dict/keyword", test_keyword);
    g_test_add_func("/dict/uid", test_uid);
    g_test_add_func("/dict/tags-h", test_tags_h);
    g_test_add_func("/dict/tables", test_tables);
    return g_test_run();
}
